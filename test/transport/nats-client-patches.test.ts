import { createRequire } from 'node:module';
import { Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NatsConnection } from '@nats-io/transport-node';
import { connectNats } from '../../src/transport/connect.ts';
import { startNatsServer, type NatsServerHandle } from '../support/nats-server.ts';
import { waitFor } from '../support/wait-for.ts';

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

/** Counts the socket writes made while `body` runs (`sync`), and until the next turn (`total`). */
async function countingSocketWrites(body: () => void): Promise<{ sync: number; total: number }> {
  const original = Socket.prototype.write;
  let writes = 0;
  Socket.prototype.write = function (this: Socket, ...args: Parameters<Socket['write']>) {
    writes++;
    return original.apply(this, args);
  } as Socket['write'];
  try {
    body();
    const sync = writes;
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setImmediate(resolve));
    return { sync, total: writes };
  } finally {
    Socket.prototype.write = original;
  }
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
      const { total: writes } = await countingSocketWrites(() => {
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
      await waitFor(() => listener.got.length >= 100, { what: 'the 100 messages' });
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
    // Past the 32 KiB pending limit the buffer is written at once, inside the second publish(),
    // not deferred to the end of the turn: one write, before the body returned.
    expect(writes).toEqual({ sync: 1, total: 1 });
    // Published and closed in the same turn: nothing is lost.
    nc.publish('big', 'last');
    await nc.close();
    await waitFor(() => listener.got.length >= 3, { what: 'the three messages' }).catch(() => undefined);
    expect(listener.got.map((m) => (m.length > 100 ? `${m.length}` : m))).toEqual([`${big.length}`, 'after', 'last']);
    await listener.nc.close();
  });
});

describe('nats client patches: only the connections Mailroom opens', () => {
  let server: NatsServerHandle;
  beforeAll(async () => {
    server = await startNatsServer({ jetstream: false });
  });
  afterAll(async () => {
    await server?.stop();
  });

  it("leaves a connection the embedding program opens itself (and nats.js's prototypes) as published", async () => {
    const { connect } = await import('@nats-io/transport-node');
    const { ProtocolHandler, RequestOne } = await import('@nats-io/nats-core/internal');
    const methods = () => {
      const protocol = ProtocolHandler.prototype as unknown as Record<string, unknown>;
      const request = RequestOne.prototype as unknown as Record<string, unknown>;
      return { flushPending: protocol['flushPending'], close: protocol['close'], resolver: request['resolver'], cancel: request['cancel'] };
    };
    const prototypes = methods();
    const ours = await connectNats({ url: server.url });
    const theirs = await connect({ servers: server.url });
    try {
      theirs.subscribe('echo', {
        callback: (_err, msg) => {
          msg.respond(msg.data);
        },
      });
      await theirs.flush();
      // Mailroom's connection carries the patches on its own protocol handler...
      const protocolOf = (nc: NatsConnection) => (nc as unknown as { protocol: object }).protocol;
      expect(Object.hasOwn(protocolOf(ours), 'flushPending')).toBe(true);
      // ...the program's does not, and the prototypes are as nats.js published them.
      expect(Object.hasOwn(protocolOf(theirs), 'flushPending')).toBe(false);
      expect(Object.hasOwn(protocolOf(theirs), 'close')).toBe(false);
      expect(methods()).toEqual(prototypes);
      // An answered request on the program's connection still builds nats.js's own RequestError; Mailroom's builds none.
      const theirsBuilt = await countingRequestErrors(async () => {
        expect((await theirs.request('echo', 'x', { timeout: 2_000 })).string()).toBe('x');
      });
      const oursBuilt = await countingRequestErrors(async () => {
        expect((await ours.request('echo', 'y', { timeout: 2_000 })).string()).toBe('y');
      });
      expect(theirsBuilt).toBeGreaterThan(0);
      expect(oursBuilt).toBe(0);
      // The program's publish is written a microtask later, as published; Mailroom's waits for the end of the turn.
      const writtenAfterMicrotasks = async (nc: NatsConnection) => {
        const original = Socket.prototype.write;
        let writes = 0;
        Socket.prototype.write = function (this: Socket, ...args: Parameters<Socket['write']>) {
          writes++;
          return original.apply(this, args);
        } as Socket['write'];
        try {
          nc.publish('nobody', 'a');
          for (let i = 0; i < 5; i++) await null;
          return writes;
        } finally {
          Socket.prototype.write = original;
        }
      };
      expect(await writtenAfterMicrotasks(theirs)).toBe(1);
      expect(await writtenAfterMicrotasks(ours)).toBe(0);
    } finally {
      await theirs.close();
      await ours.close();
    }
  });
});
