import { createRequire } from 'node:module';
import { Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NatsConnection } from '@nats-io/transport-node';
import { connectNats } from '../../src/transport/connect.ts';
import { startNatsServer, type NatsServerHandle } from '../support/nats-server.ts';

// The module nats-core's request path reads `RequestError` from at call time.
const require = createRequire(import.meta.url);
const errorsModule = require(require.resolve('@nats-io/nats-core').replace(/mod\.js$/, 'errors.js')) as { RequestError: new (...args: never[]) => Error };

/** Runs `body` while counting the `RequestError`s nats-core builds. */
async function countingRequestErrors(body: () => Promise<void>): Promise<number> {
  const Original = errorsModule.RequestError;
  let built = 0;
  errorsModule.RequestError = class extends (Original as new (...args: unknown[]) => Error) {
    constructor(...args: unknown[]) {
      super(...args);
      built++;
    }
  } as typeof Original;
  try {
    await body();
  } finally {
    errorsModule.RequestError = Original;
  }
  return built;
}

describe('nats client patches (applied by connectNats): answered requests', () => {
  let server: NatsServerHandle;
  let nc: NatsConnection;
  beforeAll(async () => {
    server = await startNatsServer({ jetstream: false });
    nc = await connectNats({ url: server.url });
    nc.subscribe('echo', {
      callback: (_err, msg) => {
        msg.respond(msg.data);
      },
    });
    await nc.flush();
  });
  afterAll(async () => {
    await nc?.close();
    await server?.stop();
  });

  it('answers requests as before, without building a throw-away RequestError', async () => {
    const built = await countingRequestErrors(async () => {
      const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => nc.request('echo', `m${i}`, { timeout: 2_000 })));
      expect(answers.map((m) => m.string())).toEqual(Array.from({ length: 20 }, (_, i) => `m${i}`));
    });
    expect(built).toBe(0);
  });

  it('still rejects a request that nobody answers, and one that times out', async () => {
    await expect(nc.request('nobody.listens', 'x', { timeout: 2_000 })).rejects.toThrow(/no responders/i);
    nc.subscribe('silent', { callback: () => undefined });
    await nc.flush();
    await expect(nc.request('silent', 'x', { timeout: 100 })).rejects.toThrow(/timeout/i);
    // The mux forgets settled requests: a later answer to the same subject still works.
    expect((await nc.request('echo', 'again', { timeout: 2_000 })).string()).toBe('again');
  });
});

/** Counts the socket writes made while `body` runs, and until the next turn. */
async function countingSocketWrites(body: () => void): Promise<number> {
  const original = Socket.prototype.write;
  let writes = 0;
  Socket.prototype.write = function (this: Socket, ...args: Parameters<Socket['write']>) {
    writes++;
    return original.apply(this, args);
  } as Socket['write'];
  try {
    body();
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setImmediate(resolve));
  } finally {
    Socket.prototype.write = original;
  }
  return writes;
}

describe('nats client patches: one socket write per event-loop turn', () => {
  let server: NatsServerHandle;
  beforeAll(async () => {
    server = await startNatsServer({ jetstream: false });
  });
  afterAll(async () => {
    await server?.stop();
  });

  /** A second connection that collects what arrives on `subject`. */
  async function listen(subject: string) {
    const nc = await connectNats({ url: server.url });
    const got: string[] = [];
    nc.subscribe(subject, {
      callback: (_err, msg) => {
        got.push(msg.string());
      },
    });
    await nc.flush();
    return { nc, got };
  }

  it('writes what one turn publishes, one microtask after another, in one socket write, and delivers all of it in order', async () => {
    const listener = await listen('turn');
    const nc = await connectNats({ url: server.url });
    try {
      await nc.flush();
      const writes = await countingSocketWrites(() => {
        // Each publish in a later microtask, as settled messages' acks and replies come.
        void (async () => {
          for (let i = 0; i < 100; i++) {
            nc.publish('turn', `m${i}`);
            await null;
          }
        })();
      });
      expect(writes).toBe(1);
      await nc.flush();
      await listener.nc.flush();
      const deadline = Date.now() + 5_000;
      while (listener.got.length < 100 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
      expect(listener.got).toEqual(Array.from({ length: 100 }, (_, i) => `m${i}`));
    } finally {
      await nc.close();
      await listener.nc.close();
    }
  });

  it('writes a buffer past the pending limit at once, and what is buffered when close() is called', async () => {
    const listener = await listen('big');
    const nc = await connectNats({ url: server.url });
    await nc.flush();
    const big = 'x'.repeat(40 * 1024);
    const writes = await countingSocketWrites(() => {
      nc.publish('big', big);
      nc.publish('big', 'after');
    });
    expect(writes).toBeGreaterThanOrEqual(1);
    // Published and closed in the same turn: nothing is lost.
    nc.publish('big', 'last');
    await nc.close();
    const deadline = Date.now() + 5_000;
    while (listener.got.length < 3 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(listener.got.map((m) => (m.length > 100 ? `${m.length}` : m))).toEqual([`${big.length}`, 'after', 'last']);
    await listener.nc.close();
  });
});
