/**
 * `mailroom start` on a real 3-node cluster (replicas, drift, --force-provision) and on a
 * server that wants a password (the inbox thread connects with it too; nothing prints it).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { jetstreamManager, RetentionPolicy, StorageType, type JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { connectNats } from '../../src/transport/connect.ts';
import { createNames, kvStreamName } from '../../src/transport/names.ts';
import { startNatsCluster, type NatsClusterHandle } from '../support/nats-cluster.ts';
import { startNatsServer } from '../support/nats-server.ts';
import { makeDomain } from '../support/runtime-fixture.ts';
import { freePort } from '../support/processes.ts';
import { waitFor } from '../support/wait-for.ts';

const bin = fileURLToPath(new URL('../../bin/mailroom.js', import.meta.url));

/** Runs `mailroom start` until it is ready, then Ctrl-C; resolves with everything it printed. */
async function startAndStop(args: readonly string[], env: Record<string, string> = {}, whileUp?: () => Promise<void>): Promise<string> {
  const child = spawn(process.execPath, [bin, 'start', '--log-format', 'pretty', ...args], { detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NATS_URL: '', MAILROOM_NATS_URL: '', ...env } });
  let out = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (out += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  try {
    await waitFor(() => out.includes('ready; Ctrl-C to stop') || child.exitCode !== null, { what: 'mailroom start to be ready', timeoutMs: 60_000 });
    expect(out).toContain('ready; Ctrl-C to stop');
    await whileUp?.();
  } finally {
    if (child.exitCode === null) process.kill(-child.pid!, 'SIGINT');
  }
  expect(await exited).toBe(0);
  return out;
}

async function configFile(extra: readonly string[] = []): Promise<{ path: string; port: number; dir: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'mailroom-cluster-start-'));
  const shop = await makeDomain(dir, 'shop.example');
  const port = await freePort();
  const path = join(dir, 'mailroom.yaml');
  await writeFile(path, [`http: { port: ${port} }`, 'domains:', `  - { name: shop.example, selector: pw1, privateKey: ${shop.privateKeyPath} }`, ...extra].join('\n'));
  return { path, port, dir };
}

describe('mailroom start on a 3-node cluster', () => {
  let cluster: NatsClusterHandle;
  let nc: NatsConnection;
  let jsm: JetStreamManager;
  beforeAll(async () => {
    cluster = await startNatsCluster();
    nc = await connectNats({ url: cluster.urls.join(','), name: 'start-on-cluster-test' });
    jsm = await jetstreamManager(nc);
  }, 60_000);
  afterAll(async () => {
    await nc?.close();
    await cluster?.stop();
  });

  it('keeps an operator-made R3 inbox under replicas 1 and warns; --force-provision lowers it; --nats-replicas 3 raises all', async () => {
    const names = createNames('opr3');
    await jsm.streams.add({ name: names.streams.inbox, subjects: [names.streamSubjects.inbox], retention: RetentionPolicy.Workqueue, storage: StorageType.File, num_replicas: 3 });
    const { path } = await configFile(['nats: { prefix: opr3 }']);
    const nats = ['--nats', cluster.urls.join(','), '-c', path];

    const kept = await startAndStop(nats);
    expect(kept).toMatch(new RegExp(`provisioning: stream ${names.streams.inbox} keeps num_replicas 3 \\(configured: 1\\).*--force-provision`));
    expect((await jsm.streams.info(names.streams.inbox)).config.num_replicas).toBe(3);

    const forced = await startAndStop([...nats, '--force-provision']);
    expect(forced).not.toContain('keeps num_replicas');
    expect(forced).toContain('1 replica, forced');
    expect((await jsm.streams.info(names.streams.inbox)).config.num_replicas).toBe(1);

    const raised = await startAndStop([...nats, '--nats-replicas', '3']);
    expect(raised).toContain('(streams and buckets: 3 replicas)');
    for (const stream of [...Object.values(names.streams), ...Object.values(names.buckets).map(kvStreamName)]) {
      expect((await jsm.streams.info(stream)).config.num_replicas).toBe(3);
    }
  }, 180_000);
});

describe('mailroom start on a NATS server with a password', () => {
  it('connects the runtime and the inbox thread with it, and never prints it', async () => {
    const { path, port, dir } = await configFile();
    const conf = join(dir, 'auth.conf');
    await writeFile(conf, 'authorization { user: app, password: "pw-never-printed-123" }\n');
    const server = await startNatsServer({ args: ['-c', conf] });
    try {
      const env = { MAILROOM_NATS_USER: 'app', MAILROOM_NATS_PASSWORD: 'pw-never-printed-123' };
      const out = await startAndStop(['--nats', server.url, '-c', path], env, async () => {
        // The inbox thread answers only once its own connection is up: a 400 (not a 503) for a bad envelope.
        const res = await fetch(`http://127.0.0.1:${port}/inbox`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
        expect(res.status).toBe(400);
      });
      expect(out).toContain(`connecting to NATS at ${server.url} as user app`);
      expect(out).not.toContain('pw-never-printed-123');

      const wrong = spawn(process.execPath, [bin, 'start', '--nats', server.url, '-c', path], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env, MAILROOM_NATS_PASSWORD: 'wrong-password-456' } });
      let text = '';
      wrong.stderr!.on('data', (c: Buffer) => (text += c.toString()));
      wrong.stdout!.on('data', (c: Buffer) => (text += c.toString()));
      const code = await new Promise<number | null>((resolve) => wrong.once('exit', resolve));
      expect(code).not.toBe(0);
      expect(text).toMatch(/cannot connect to NATS at .* as user app: .*authorization violation/i);
      expect(text).not.toContain('wrong-password-456');
    } finally {
      await server.stop();
    }
  }, 120_000);
});
