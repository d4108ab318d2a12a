import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { connect } from '@nats-io/transport-node';
import { NatsServerError } from '../../src/errors.ts';
import { startNatsServer } from '../support/nats-server.ts';
import { alive } from '../support/processes.ts';


describe('the test launcher', () => {
  it('starts servers on distinct free ports, with the extra args', async () => {
    const [a, b] = await Promise.all([startNatsServer({ args: ['--server_name', 'custom-a'] }), startNatsServer({ jetstream: false })]);
    try {
      expect(a.port).not.toBe(b.port);
      expect(a.port).not.toBe(4222);
      expect(a.url).toBe(`nats://127.0.0.1:${a.port}`);
      expect(a.version).toMatch(/^\d+\.\d+\.\d+/);
      const nc = await connect({ servers: a.url });
      expect(nc.info?.server_name).toBe('custom-a');
      expect(nc.info?.jetstream).toBe(true);
      await nc.close();
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
  });

  it('stop() is graceful, idempotent, ends the process and removes the store', async () => {
    const server = await startNatsServer();
    const pid = server.pid;
    expect(existsSync(server.storeDir)).toBe(true);
    await Promise.all([server.stop(), server.stop()]);
    await server.stop();
    expect(alive(pid)).toBe(false);
    expect(existsSync(server.storeDir)).toBe(false);
    expect(server.log().some((l) => /Server Exiting/.test(l))).toBe(true);
    await expect(server.restart()).rejects.toThrow(NatsServerError);
  });

  it('keepStore keeps the store after stop()', async () => {
    const server = await startNatsServer({ keepStore: true });
    await server.stop();
    try {
      expect(existsSync(server.storeDir)).toBe(true);
    } finally {
      await rm(server.storeDir, { recursive: true, force: true });
    }
  });

  it('kill() is abrupt and keeps the store; restart() comes back on the same port and store', async () => {
    const server = await startNatsServer();
    try {
      const { pid, port, storeDir } = server;
      await server.kill();
      expect(alive(pid)).toBe(false);
      expect(server.log().some((l) => /Server Exiting/.test(l))).toBe(false);
      expect(existsSync(storeDir)).toBe(true);
      await server.restart();
      expect(server.port).toBe(port);
      expect(server.pid).not.toBe(pid);
      expect(server.log().join('\n')).toContain(`Store Directory: "${storeDir}/jetstream"`);
      const nc = await connect({ servers: server.url });
      await nc.close();
    } finally {
      await server.stop();
    }
  });

  it('reports a server that cannot start, with its log', async () => {
    const error = await startNatsServer({ args: ['--no-such-flag'] }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NatsServerError);
    expect((error as Error).message).toMatch(/exited before it was ready[\s\S]*flag provided but not defined/);
  });
});
