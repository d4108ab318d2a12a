import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConnectionOptions } from '@nats-io/transport-node';
import { TransportError } from '../../src/errors.ts';
import { connectNats, credentialsOf, redactUrl } from '../../src/transport/connect.ts';
import { startNatsServer, type NatsServerHandle } from '../support/nats-server.ts';
import { waitFor } from '../support/wait-for.ts';

/** A port nothing listens on right now. */
async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address() as { port: number };
  await new Promise((r) => srv.close(r));
  return port;
}

describe('connectNats', () => {
  let server: NatsServerHandle;
  beforeAll(async () => {
    server = await startNatsServer({ jetstream: false });
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('connects with async traces off and reconnects forever by default', async () => {
    const nc = await connectNats({ url: server.url, name: 'connect-test' });
    try {
      const { options } = nc as unknown as { options: ConnectionOptions };
      expect(options).toMatchObject({ noAsyncTraces: true, reconnect: true, maxReconnectAttempts: -1, name: 'connect-test' });
      expect(options.reconnectJitter).toBeGreaterThan(0);
      await nc.flush();
    } finally {
      await nc.close();
    }
  });

  it('throws a TransportError naming the URL when the first connect fails', async () => {
    const url = `nats://127.0.0.1:${await closedPort()}`;
    const error = await connectNats({ url }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TransportError);
    expect((error as Error).message).toContain(`cannot connect to NATS at ${url}`);
    expect((error as Error).cause).toBeDefined();
  });

  it('never shows a password in the error', async () => {
    const port = await closedPort();
    const error = await connectNats({ url: `nats://alice:s3cret@127.0.0.1:${port}` }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TransportError);
    expect((error as Error).message).toContain(`nats://alice:***@127.0.0.1:${port}`);
    expect((error as Error).message).not.toContain('s3cret');
    expect(redactUrl('nats://tok@h:1,nats://u:p@h:2')).toBe('nats://***@h:1,nats://u:***@h:2');
  });

  it('takes user and password (or a token) from the URL, which nats.js would ignore', () => {
    expect(credentialsOf('nats://alice:s%3Acret@127.0.0.1:4')).toEqual({ server: 'nats://127.0.0.1:4', user: 'alice', pass: 's:cret' });
    expect(credentialsOf('nats://tok@h:1')).toEqual({ server: 'nats://h:1', token: 'tok' });
    expect(credentialsOf('nats://h:1')).toEqual({ server: 'nats://h:1' });
  });

  it('gives up after maxReconnectAttempts when asked to', async () => {
    const own = await startNatsServer({ jetstream: false });
    const nc = await connectNats({ url: own.url, maxReconnectAttempts: 1, reconnectTimeWaitMs: 50, reconnectJitterMs: 10 });
    let closed = false;
    void nc.closed().then(() => {
      closed = true;
    });
    await own.stop();
    await waitFor(() => closed, { what: 'the connection to close' });
    expect(nc.isClosed()).toBe(true);
  });
});
