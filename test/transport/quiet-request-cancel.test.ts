import { createRequire } from 'node:module';
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

describe('quietRequestCancel (applied by connectNats)', () => {
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
