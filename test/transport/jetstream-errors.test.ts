import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Kvm, type KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { startNatsServer, type NatsServerHandle } from '../support/nats-server.ts';
import { connectNats } from '../../src/transport/connect.ts';
import { apiErrorCode, isWrongLastSequence, JS_API_CODES } from '../../src/transport/jetstream-errors.ts';
import { isPut, liveEntry } from '../../src/transport/kv-entries.ts';
import { isAlreadyExists } from '../../src/runtime/status-store.ts';

let server: NatsServerHandle;
let nc: NatsConnection;
let kv: KV;

beforeAll(async () => {
  server = await startNatsServer();
  nc = await connectNats({ url: server.url });
  kv = await new Kvm(nc).create('jserrors-test', { history: 1 });
});
afterAll(async () => {
  await nc?.close();
  await server?.stop();
});

const rejection = async (promise: Promise<unknown>): Promise<unknown> => promise.then(() => undefined, (error: unknown) => error);

describe('JetStream API error codes, as the server sends them', () => {
  it('a KV create on a key that exists is "wrong last sequence" (10071)', async () => {
    await kv.create('k1', 'one');
    const error = await rejection(kv.create('k1', 'two'));
    expect(apiErrorCode(error)).toBe(JS_API_CODES.streamWrongLastSequence);
    expect(isWrongLastSequence(error)).toBe(true);
    expect(isAlreadyExists(error)).toBe(true);
  });

  it('a KV update at a stale revision is the same code', async () => {
    const first = await kv.put('k2', 'one');
    await kv.put('k2', 'two');
    const error = await rejection(kv.update('k2', 'three', first));
    expect(apiErrorCode(error)).toBe(JS_API_CODES.streamWrongLastSequence);
    expect(isAlreadyExists(error)).toBe(true);
  });

  it('a create after a delete succeeds (nats.js writes over the marker)', async () => {
    await kv.create('k3', 'one');
    await kv.delete('k3');
    await expect(kv.create('k3', 'two')).resolves.toBeGreaterThan(0);
  });

  it('other errors are not "already exists", whatever their text', () => {
    expect(isAlreadyExists(new Error('wrong last sequence: 7'))).toBe(false);
    expect(isAlreadyExists(undefined)).toBe(false);
    expect(isAlreadyExists('key exists')).toBe(false);
    expect(apiErrorCode(new Error('x'))).toBeUndefined();
  });
});

describe('KV entries', () => {
  it('tells a value from a delete marker, a purge marker, an empty value and no key', async () => {
    await kv.put('e.value', 'v');
    await kv.put('e.empty', '');
    await kv.put('e.deleted', 'v');
    await kv.delete('e.deleted');
    await kv.put('e.purged', 'v');
    await kv.purge('e.purged');
    const [value, empty, deleted, purged, missing] = await Promise.all(['e.value', 'e.empty', 'e.deleted', 'e.purged', 'e.missing'].map((k) => kv.get(k)));
    expect([value, empty, deleted, purged, missing].map(isPut)).toEqual([true, true, false, false, false]);
    expect([value, empty, deleted, purged, missing].map((e) => liveEntry(e)?.string())).toEqual(['v', undefined, undefined, undefined, undefined]);
  });
});
