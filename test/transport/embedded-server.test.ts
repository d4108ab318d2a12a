import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jetstreamManager } from '@nats-io/jetstream';
import { AlreadyRunningError, NatsServerError } from '../../src/errors.ts';
import { connectNats } from '../../src/transport/connect.ts';
import { startEmbeddedNatsServer, type EmbeddedNatsServer } from '../../src/transport/embedded-server.ts';
import { waitFor } from '../support/wait-for.ts';
import { alive, freePort } from '../support/processes.ts';



let work: string;
beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'mailroom-embedded-'));
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

describe('startEmbeddedNatsServer', () => {
  let server: EmbeddedNatsServer | undefined;
  afterAll(async () => {
    await server?.stop();
  });

  it("serves JetStream from the given store, with Mailroom's nats.conf", async () => {
    const storeDir = join(work, 'default-store');
    server = await startEmbeddedNatsServer({ storeDir });
    expect(server.url).toBe(`nats://127.0.0.1:${server.port}`);
    expect(server.port).not.toBe(4222);
    expect(server.version).toMatch(/^\d+\.\d+\.\d+/);
    expect(server.storeDir).toBe(storeDir);

    const nc = await connectNats({ url: server.url });
    try {
      // From nats.conf: the server name and the 1 MB max payload.
      expect(nc.info?.server_name).toBe('mailroom');
      expect(nc.info?.max_payload).toBe(1024 * 1024);
      const jsm = await jetstreamManager(nc);
      await jsm.streams.add({ name: 'EMBEDDED', subjects: ['embedded.>'] });
      await (await import('@nats-io/jetstream')).jetstream(nc).publish('embedded.x', 'hello');
      expect((await jsm.streams.info('EMBEDDED')).state.messages).toBe(1);
    } finally {
      await nc.close();
    }
    expect(existsSync(join(storeDir, 'jetstream'))).toBe(true);
    // Mailroom's nats.conf leaves store_dir to -sd, so it runs as it is, with no rewritten copy.
    expect(existsSync(join(storeDir, 'nats-server.conf'))).toBe(false);
  });

  it('stop() is idempotent and the process is gone', async () => {
    const running = server!;
    const pid = running.pid;
    expect(alive(pid)).toBe(true);
    await Promise.all([running.stop(), running.stop()]);
    await running.stop();
    expect(alive(pid)).toBe(false);
    expect(running.log().some((l) => /Server Exiting/.test(l))).toBe(true);
  });

  it('listens on the port it is given, and runs a config without store_dir as it is', async () => {
    const config = join(work, 'plain.conf');
    await writeFile(config, 'server_name: plain\njetstream {\n  max_memory_store: 64MB\n}\n');
    const port = await freePort();
    const s = await startEmbeddedNatsServer({ configFile: config, storeDir: join(work, 'plain-store'), port });
    try {
      expect(s.port).toBe(port);
      const nc = await connectNats({ url: s.url });
      expect(nc.info?.server_name).toBe('plain');
      await nc.close();
      expect(existsSync(join(work, 'plain-store', 'nats-server.conf'))).toBe(false);
    } finally {
      await s.stop();
    }
  });

  it('explains a port in use', async () => {
    const s = await startEmbeddedNatsServer({ storeDir: join(work, 'first') });
    try {
      const error = await startEmbeddedNatsServer({ storeDir: join(work, 'second'), port: s.port }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(NatsServerError);
      expect((error as Error).message).toMatch(/exited before it was ready[\s\S]*address already in use/);
      expect((error as NatsServerError).hint).toMatch(/port is in use/);
    } finally {
      await s.stop();
    }
  });

  it('says how to install nats-server when the binary is missing', async () => {
    const error = await startEmbeddedNatsServer({ binary: '/nonexistent/nats-server', storeDir: join(work, 'missing') }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NatsServerError);
    expect((error as Error).message).toContain('/nonexistent/nats-server not found');
    const { hint } = error as NatsServerError;
    expect(hint).toContain('apt-get install nats-server');
    expect(hint).toContain('brew install nats-server');
    expect(hint).toContain('docker compose up -d');
    expect(hint).toContain('NATS_URL=nats://127.0.0.1:4222');
  });

  it('gives up at the deadline and kills a server that never gets ready', async () => {
    const pidFile = join(work, 'stuck.pid');
    const binary = join(work, 'stuck-nats-server');
    await writeFile(binary, `#!/bin/sh\necho "[1] starting, never ready" >&2\necho $$ > ${pidFile}\nexec sleep 60\n`, { mode: 0o755 });
    const error = await startEmbeddedNatsServer({ binary, storeDir: join(work, 'stuck'), readyTimeoutMs: 1000 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NatsServerError);
    expect((error as Error).message).toMatch(/not ready within 1000 ms[\s\S]*starting, never ready/);
    const pid = Number(await readFile(pidFile, 'utf8'));
    await waitFor(() => !alive(pid), { what: 'the stuck server to be killed' });
  });

  it('refuses a config file that does not exist', async () => {
    const error = await startEmbeddedNatsServer({ configFile: join(work, 'nope.conf'), storeDir: join(work, 'nope') }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NatsServerError);
    expect((error as Error).message).toContain('nope.conf');
  });
});

describe('the embedded server and its owner', () => {
  it('runs in its own process group, so Ctrl-C reaches only Mailroom, which stops it last', async () => {
    const storeDir = await mkdtemp(join(tmpdir(), 'mailroom-embedded-pg-'));
    const s = await startEmbeddedNatsServer({ storeDir });
    try {
      const groupOf = async (pid: number) => Number((await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1]!.split(' ')[2]);
      expect(await groupOf(s.pid)).toBe(s.pid);
      expect(await groupOf(s.pid)).not.toBe(await groupOf(process.pid));
      expect((await readFile(join(storeDir, 'nats-server.pid'), 'utf8')).trim()).toBe(String(s.pid));
    } finally {
      await s.stop();
    }
    expect(existsSync(join(storeDir, 'nats-server.pid'))).toBe(false);
  });

  it('a second start on a store owned by a live runtime refuses at once, naming the owner, and the first server keeps serving', async () => {
    const storeDir = await mkdtemp(join(tmpdir(), 'mailroom-embedded-owned-'));
    const owner = await startOwner(storeDir);
    try {
      // Another process (the test's) and this very process are both refused while the owner lives.
      const error = await startEmbeddedNatsServer({ storeDir }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(AlreadyRunningError);
      expect((error as AlreadyRunningError).pid).toBe(owner.pid);
      expect((error as Error).message).toContain(`already running, pid ${owner.pid}`);
      expect((error as AlreadyRunningError).hint).toMatch(/storeDir/);
      expect(alive(owner.natsPid)).toBe(true);
      const nc = await connectNats({ url: owner.url });
      await jetstreamManager(nc).then((jsm) => jsm.getAccountInfo());
      await nc.close();
    } finally {
      await owner.kill('SIGTERM');
    }
    await waitFor(() => !alive(owner.natsPid), { what: 'the owner to stop its server' });
    expect(existsSync(join(storeDir, 'mailroom.lock'))).toBe(false);
  });

  it('a lock left by a runtime that was SIGKILLed is stale: the next start stops the orphan server and takes the store', async () => {
    const storeDir = await mkdtemp(join(tmpdir(), 'mailroom-embedded-orphan-'));
    const owner = await startOwner(storeDir);
    await owner.kill('SIGKILL');
    // As Mailroom left it: the server runs on in its own process group, the lock and pid file stay.
    expect(alive(owner.natsPid)).toBe(true);
    expect(existsSync(join(storeDir, 'mailroom.lock'))).toBe(true);
    const next = await startEmbeddedNatsServer({ storeDir });
    try {
      expect(alive(owner.natsPid)).toBe(false);
      expect(alive(next.pid)).toBe(true);
      expect(JSON.parse(await readFile(join(storeDir, 'mailroom.lock'), 'utf8'))).toMatchObject({ pid: process.pid });
      // This process owns it now: a second start here is refused too.
      await expect(startEmbeddedNatsServer({ storeDir })).rejects.toThrow(`already running, pid ${process.pid}`);
    } finally {
      await next.stop();
    }
    if (alive(owner.natsPid)) process.kill(owner.natsPid, 'SIGKILL');
  });
});

/** A runtime process owning an embedded server on `storeDir`, as `mailroom start` runs one. */
async function startOwner(storeDir: string): Promise<{ pid: number; natsPid: number; url: string; kill(signal: NodeJS.Signals): Promise<void> }> {
  const module = fileURLToPath(new URL('../../src/transport/embedded-server.ts', import.meta.url));
  const script = [
    `const { startEmbeddedNatsServer } = await import(${JSON.stringify(module)});`,
    `const s = await startEmbeddedNatsServer({ storeDir: ${JSON.stringify(storeDir)} });`,
    "console.log('ready', s.pid, s.url);",
    "process.once('SIGTERM', () => void s.stop().then(() => process.exit(0)));",
    'setInterval(() => undefined, 1000);',
  ].join('\n');
  const child = spawn(process.execPath, ['--import', 'tsx/esm', '--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  const [, natsPid, url] = await waitFor(() => /ready (\d+) (\S+)/.exec(out) ?? undefined, { what: 'the owner process to start its server', timeoutMs: 30_000 });
  return {
    pid: child.pid!,
    natsPid: Number(natsPid),
    url: url!,
    kill: async (signal) => {
      child.kill(signal);
      await exited;
    },
  };
}
