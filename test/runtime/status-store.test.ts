import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Kvm } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { startNatsServer, type NatsServerHandle } from '../support/nats-server.ts';
import { connectNats } from '../../src/transport/connect.ts';
import { createNames } from '../../src/transport/names.ts';
import { StatusStore, type EnvelopeStatus } from '../../src/runtime/status-store.ts';

let server: NatsServerHandle;
let nc: NatsConnection;
let store: StatusStore;

const status = (state: string, final: boolean, attempt: number, correlation = 'c0ffee00-0000-4000-8000-000000000001'): EnvelopeStatus => ({
  from: 'orders.example',
  to: 'shop.example',
  subject: 'Hello@Host',
  correlation,
  state,
  final,
  attempt,
  history: [],
  updatedAt: new Date().toISOString(),
});

beforeAll(async () => {
  server = await startNatsServer();
  nc = await connectNats({ url: server.url });
  const names = createNames('ststore');
  store = new StatusStore(await new Kvm(nc).create(names.buckets.status), names.statusKey);
});
afterAll(async () => {
  await nc?.close();
  await server?.stop();
});

describe('StatusStore', () => {
  it('recordQueued never replaces a status an actor already wrote', async () => {
    const c = 'c0ffee00-0000-4000-8000-000000000002';
    await store.put(status('replied', true, 1, c));
    await store.recordQueued(status('queued', false, 0, c));
    expect((await store.get('orders.example', c))?.state).toBe('replied');
  });

  it('a stale actor cannot regress a final status, nor a later attempt', async () => {
    const c = 'c0ffee00-0000-4000-8000-000000000003';
    await store.put(status('replied', true, 2, c));
    expect(await store.putUnlessSuperseded(status('retrying', false, 1, c))).toBe(false);
    expect(await store.putUnlessSuperseded(status('retrying', false, 3, c))).toBe(false);
    expect((await store.get('orders.example', c))?.state).toBe('replied');

    const d = 'c0ffee00-0000-4000-8000-000000000004';
    await store.put(status('retrying', false, 3, d));
    expect(await store.putUnlessSuperseded(status('replied', true, 2, d))).toBe(false);
    expect(await store.putUnlessSuperseded(status('replied', true, 3, d))).toBe(true);
    expect((await store.get('orders.example', d))?.state).toBe('replied');
  });

  it('writes when nothing is there, and settles concurrent writers on one outcome', async () => {
    const c = 'c0ffee00-0000-4000-8000-000000000005';
    const results = await Promise.all([store.putUnlessSuperseded(status('replied', true, 1, c)), store.putUnlessSuperseded(status('retrying', false, 1, c))]);
    // Whatever the order, the final outcome wins: written first it refuses the other; written second it replaces it.
    expect(results[0]).toBe(true);
    expect((await store.get('orders.example', c))?.state).toBe('replied');
  });
});
