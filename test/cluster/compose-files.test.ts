/**
 * docker-compose.yml and its configs, checked without a docker engine: what the file
 * publishes, that nats-server accepts the configs, that the cluster example parses, and that
 * the `cluster` profile runs: its three nats-server commands with its config, only the
 * containers' addresses mapped to loopback ports, form a JetStream cluster, and the profile's
 * `mailroom start` command (its config, its environment) provisions everything at 3 replicas on it.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { jetstreamManager } from '@nats-io/jetstream';
import { loadConfig } from '../../src/config/index.ts';
import { connectNats } from '../../src/transport/connect.ts';
import { spawnNatsServer, type NatsServerProcess } from '../../src/transport/spawn-nats-server.ts';
import { freePort } from '../support/processes.ts';
import { waitFor } from '../support/wait-for.ts';
import { awaitReplicas } from './failover-support.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
const compose = parse(readFileSync(`${root}docker-compose.yml`, 'utf8'), { merge: true }) as {
  services: Record<string, { image: string; command: string[]; ports?: string[]; profiles?: string[]; environment?: Record<string, string> }>;
};

describe('docker-compose.yml', () => {
  it('publishes every port on loopback only, and runs the nats-server line we test on', () => {
    const version = /v(\d+\.\d+)/.exec(execFileSync('nats-server', ['--version'], { encoding: 'utf8' }))![1]!;
    for (const [name, service] of Object.entries(compose.services)) {
      for (const port of service.ports ?? []) expect(port, `${name} publishes ${port}`).toMatch(/^127\.0\.0\.1:/);
      if (service.image.startsWith('nats:')) expect(service.image).toMatch(new RegExp(`^nats:${version.replace('.', '\\.')}[.-]`));
    }
    // Monitoring is on where 8222 is mapped.
    expect(compose.services.nats!.command).toEqual(expect.arrayContaining(['-m', '8222']));
    expect(Object.keys(compose.services).filter((s) => compose.services[s]!.profiles?.includes('cluster')).sort()).toEqual(['mailroom', 'nats-1', 'nats-2', 'nats-3']);
  });

  it('gives nats-server configs it accepts', () => {
    expect(execFileSync('nats-server', ['-c', `${root}nats.conf`, ...compose.services.nats!.command.slice(2), '-t'], { encoding: 'utf8', stdio: 'pipe' })).toBe('');
    for (const node of ['nats-1', 'nats-2', 'nats-3']) {
      const args = compose.services[node]!.command.map((a) => a.replace('/etc/nats/cluster.conf', `${root}examples/cluster/nats-cluster.conf`));
      expect(args).toContain(node);
      execFileSync('nats-server', [...args, '-t'], { stdio: 'pipe' });
    }
  });

  it('configures the cluster profile\'s Mailroom with 3 replicas and every node', async () => {
    const env = { MAILROOM_NATS_URL: compose.services.mailroom!.environment!.MAILROOM_NATS_URL! };
    const config = await loadConfig(`${root}examples/cluster/mailroom.yaml`, { env });
    expect(config.nats.replicas).toBe(3);
    expect(config.nats.url).toBe('nats://nats-1:4222,nats://nats-2:4222,nats://nats-3:4222');
    expect(config.domains.map((d) => d.name)).toEqual(['orders.example', 'shop.example', 'buffer.example']);
  });
});

/**
 * The cluster profile's node config for node `i` on loopback: the file as it is, with only
 * what a container provides mapped — its listen addresses to free loopback ports, the service
 * names of the routes to those ports, the `/data` volume to a temp folder. Each mapping must
 * match exactly once, so a change to the example that this does not cover fails here.
 */
function onLoopback(conf: string, ports: { client: number; monitor: number; route: number }, routes: readonly number[], store: string): string {
  const mappings: [RegExp, string][] = [
    [/^listen: 0\.0\.0\.0:4222$/m, `listen: 127.0.0.1:${ports.client}`],
    [/^http: 0\.0\.0\.0:8222$/m, `http: 127.0.0.1:${ports.monitor}`],
    [/^ {2}store_dir: \/data$/m, `  store_dir: ${JSON.stringify(store)}`],
    [/^ {2}listen: 0\.0\.0\.0:6222$/m, `  listen: 127.0.0.1:${ports.route}`],
    ...routes.map((port, n) => [new RegExp(`^ {4}nats-route://nats-${n + 1}:6222$`, 'm'), `    nats-route://127.0.0.1:${port}`] as [RegExp, string]),
  ];
  let out = conf;
  for (const [pattern, replacement] of mappings) {
    expect(out, `the example config has ${pattern}`).toMatch(pattern);
    out = out.replace(pattern, replacement);
  }
  expect(out).not.toMatch(/0\.0\.0\.0|nats-\d:|\/data\b/);
  return out;
}

describe("docker-compose.yml's cluster profile, run on loopback", () => {
  const nodes = ['nats-1', 'nats-2', 'nats-3'];
  const servers: NatsServerProcess[] = [];
  let dir: string | undefined;
  afterAll(async () => {
    await Promise.all(servers.map((s) => s.stop()));
    if (dir) await rm(dir, { recursive: true, force: true, maxRetries: 3 });
  });

  it("starts its three nats-server commands as a JetStream cluster, and its mailroom command provisions every stream and bucket at 3 replicas", async () => {
    dir = await mkdtemp(join(tmpdir(), 'mailroom-compose-cluster-'));
    const example = readFileSync(`${root}examples/cluster/nats-cluster.conf`, 'utf8');
    const ports: { client: number; monitor: number; route: number }[] = [];
    for (const _ of nodes) ports.push({ client: await freePort(), monitor: await freePort(), route: await freePort() });
    const routes = ports.map((p) => p.route);
    const launches = nodes.map(async (node, i) => {
      const conf = join(dir!, `${node}.conf`);
      await writeFile(conf, onLoopback(example, ports[i]!, routes, join(dir!, node)));
      const command = compose.services[node]!.command;
      // The service's command exactly, with the config where the volume mounts it.
      expect(command.filter((a) => a === '/etc/nats/cluster.conf')).toHaveLength(1);
      return spawnNatsServer({ args: command.map((a) => (a === '/etc/nats/cluster.conf' ? conf : a)), signalOnProcessExit: 'SIGKILL', readyTimeoutMs: 30_000 });
    });
    servers.push(...(await Promise.all(launches)));
    const urls = servers.map((s) => s.url).join(',');
    const nc = await connectNats({ url: urls, name: 'compose-cluster-test' });
    try {
      const jsm = await waitFor(async () => {
        const m = await jetstreamManager(nc, { timeout: 2_000 });
        await m.getAccountInfo();
        return m;
      }, { what: 'the JetStream meta leader of the compose cluster', timeoutMs: 60_000 });
      // Three routed nodes, named as the services are (each node's monitoring port answers).
      for (const [i, p] of ports.entries()) {
        const varz = (await (await fetch(`http://127.0.0.1:${p.monitor}/varz`)).json()) as { server_name: string; cluster: { name: string } };
        expect(varz.server_name).toBe(nodes[i]);
        expect(varz.cluster.name).toBe('mailroom');
        await waitFor(async () => ((await (await fetch(`http://127.0.0.1:${p.monitor}/routez`)).json()) as { num_routes: number }).num_routes >= 2, { what: `${nodes[i]} routed to the other two`, timeoutMs: 30_000 });
      }

      // The mailroom service's command, from the repo root (its working_dir /app), with its environment.
      const service = compose.services.mailroom!;
      const [exe, ...args] = service.command;
      expect(exe).toBe('node');
      const httpPort = await freePort();
      const env = {
        ...process.env,
        NATS_URL: '',
        ...service.environment,
        MAILROOM_ADMIN_TOKEN: '',
        MAILROOM_NATS_URL: urls,
        // Inside the container it listens on every interface; here, loopback.
        MAILROOM_HTTP_HOST: '127.0.0.1',
        MAILROOM_HTTP_PORT: String(httpPort),
      };
      const child = spawn(process.execPath, args, { cwd: root, detached: true, stdio: ['ignore', 'pipe', 'pipe'], env });
      let out = '';
      child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
      child.stderr!.on('data', (c: Buffer) => (out += c.toString()));
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      try {
        await waitFor(async () => {
          if (child.exitCode !== null) throw new Error(`mailroom start exited: ${out}`);
          return (await fetch(`http://127.0.0.1:${httpPort}/readyz`)).status === 200;
        }, { what: 'the cluster profile\'s Mailroom to answer /readyz 200', timeoutMs: 90_000 });
        const config = await loadConfig(`${root}examples/cluster/mailroom.yaml`, { env: { MAILROOM_NATS_URL: urls } });
        const streams = await awaitReplicas(jsm, config.nats.prefix, 3);
        // Inbox, outbox, DLQ, timers, tasks, and the KV buckets: all of them at R3, with a leader and current followers.
        expect(streams.length).toBeGreaterThanOrEqual(11);
      } finally {
        if (child.exitCode === null) process.kill(-child.pid!, 'SIGINT');
      }
      expect(await exited, out).toBe(0);
    } finally {
      await nc.close();
    }
  }, 180_000);
});
