/**
 * StatusQuery and DeadLetterQuery over real streams (nats-server per file): newest first
 * across windows of a sparse KV stream (history 1: most sequences are gone), time ranges,
 * deleted keys, the scan cap and resuming from it, and a dead-letter stream whose newest
 * messages were deleted. Prints the time a page took over 3,000 statuses (for the README).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import { startNatsServer, type NatsServerHandle } from '../support/nats-server.ts';
import { StatusQuery } from '../../src/runtime/status-query.ts';
import { DeadLetterQuery } from '../../src/runtime/dead-letter-query.ts';
import type { EnvelopeStatus } from '../../src/runtime/status-store.ts';

const BUCKET = 'query-test-status';
const N = 3_000;
let server: NatsServerHandle;
let nc: NatsConnection;
let js: JetStreamClient;
let jsm: JetStreamManager;
let kv: KV;
let query: StatusQuery;
let middle: Date;

const key = (i: number) => `orders_example.c${String(i).padStart(5, '0')}`;
const status = (i: number, state: string, attempt = 1): EnvelopeStatus => ({
  from: 'orders.example',
  to: 'shop.example',
  subject: i % 2 ? 'Pay@Shop' : 'Hello@Host',
  correlation: `c${String(i).padStart(5, '0')}`,
  state,
  final: state !== 'handling',
  attempt,
  history: [],
  ...(state === 'deadLettered' ? { deadLetter: { reason: 'max-attempts', lastState: 'handling', detail: 'down' } } : {}),
  updatedAt: new Date().toISOString(),
});
const finalState = (i: number) => (i % 100 === 7 ? 'deadLettered' : 'replied');

async function writeAll(from: number, to: number) {
  for (let i = from; i < to; i += 200) {
    const batch = Array.from({ length: Math.min(200, to - i) }, (_, k) => i + k);
    // Three writes per key: only the last stays (history 1), so the stream is two-thirds holes.
    await Promise.all(batch.map((n) => kv.put(key(n), JSON.stringify(status(n, 'handling')))));
    await Promise.all(batch.map((n) => kv.put(key(n), JSON.stringify(status(n, 'handling', 2)))));
    await Promise.all(batch.map((n) => kv.put(key(n), JSON.stringify(status(n, finalState(n), 2)))));
  }
}

beforeAll(async () => {
  server = await startNatsServer();
  nc = await connect({ servers: server.url });
  js = jetstream(nc);
  jsm = await jetstreamManager(nc);
  kv = await new Kvm(js).create(BUCKET, { history: 1 });
  await writeAll(0, N / 2);
  await new Promise((resolve) => setTimeout(resolve, 30));
  middle = new Date();
  await new Promise((resolve) => setTimeout(resolve, 30));
  await writeAll(N / 2, N);
  query = new StatusQuery({ js, jsm }, `KV_${BUCKET}`, { get: async () => undefined });
}, 120_000);
afterAll(async () => {
  await nc?.close();
  await server?.stop();
});

describe('StatusQuery', () => {
  it('pages a filter through a sparse stream, newest first, with no gaps or repeats', async () => {
    const started = performance.now();
    const first = await query.list({ states: ['deadLettered'] }, { limit: 10 });
    const firstPageMs = performance.now() - started;
    expect(first.envelopes.map((e) => e.correlation)).toEqual(
      Array.from({ length: 10 }, (_, k) => `c${String(N - 100 + 7 - k * 100).padStart(5, '0')}`),
    );
    const all = [...first.envelopes];
    let page = first;
    while (page.next) {
      page = await query.list({ states: ['deadLettered'] }, { limit: 10, cursor: page.next });
      all.push(...page.envelopes);
    }
    expect(all).toHaveLength(N / 100);
    expect(new Set(all.map((e) => e.correlation)).size).toBe(N / 100);
    const unfiltered = performance.now();
    await query.list({}, { limit: 50 });
    process.stdout.write(`\n[status-query] ${N} statuses (${3 * N} writes): first page of a 1-in-100 filter ${firstPageMs.toFixed(0)} ms, 50 newest unfiltered ${(performance.now() - unfiltered).toFixed(0)} ms\n`);
  });

  it('reads a time range: since and until split the writes at the middle', async () => {
    const count = async (filter: Parameters<StatusQuery['list']>[0]) => {
      let n = 0;
      let page = await query.list(filter, { limit: 500, scanCap: 100_000 });
      n += page.envelopes.length;
      while (page.next) {
        page = await query.list(filter, { limit: 500, scanCap: 100_000, cursor: page.next });
        n += page.envelopes.length;
      }
      return n;
    };
    expect(await count({ since: middle })).toBe(N / 2);
    expect(await count({ until: middle })).toBe(N / 2);
    expect(await count({ since: middle, subject: 'pay' })).toBe(N / 4);
  });

  it('stops at the scan cap, says so, and resumes where it stopped', async () => {
    const capped = await query.list({ reason: 'nothing-like-this' }, { scanCap: 400 });
    expect(capped).toMatchObject({ envelopes: [], scanned: 400, capped: true });
    let page = capped;
    let scanned = capped.scanned;
    while (page.next) {
      page = await query.list({ reason: 'nothing-like-this' }, { scanCap: 400, cursor: page.next });
      scanned += page.scanned;
    }
    expect(scanned).toBe(N);
  });

  it('skips deleted keys', async () => {
    await kv.delete(key(N - 1));
    await kv.purge(key(N - 2));
    const page = await query.list({}, { limit: 3 });
    expect(page.envelopes.map((e) => e.correlation)).toEqual([`c0${N - 3}`, `c0${N - 4}`, `c0${N - 5}`]);
  });
});

describe('DeadLetterQuery', () => {
  it('lists a stream whose newest messages were deleted, without waiting on them', async () => {
    await jsm.streams.add({ name: 'QT_DLQ', subjects: ['qt.dlq.>'] });
    for (let i = 0; i < 40; i++) {
      const record = { reason: i % 4 ? 'max-attempts' : 'poison', lastState: 'handling', detail: 'x', attempts: 2, history: [], stream: 'QT_INBOX', streamSequence: i, subject: 'qt.inbox', deadLetteredAt: new Date().toISOString(), data: Buffer.from(JSON.stringify({ Header: { From: 'a.example', To: 'b.example', Subject: 'S@B', Correlation: `d${i}` } })).toString('base64') };
      await js.publish('qt.dlq.b', JSON.stringify(record));
    }
    for (let seq = 31; seq <= 40; seq++) await jsm.streams.deleteMessage('QT_DLQ', seq);
    const dlq = new DeadLetterQuery({ js, jsm }, { dlq: 'QT_DLQ', outbox: 'QT_OUTBOX' }, { replay: async () => undefined, purge: async () => 0 });
    const page = await dlq.list({}, { limit: 5 });
    expect(page.deadLetters.map((l) => l.id)).toEqual([30, 29, 28, 27, 26]);
    expect(page.deadLetters[0]).toMatchObject({ queue: 'inbox', envelope: { correlation: 'd29' } });
    const groups = await dlq.groups({});
    expect(groups).toMatchObject({ total: 30, upTo: 30, groups: [{ reason: 'max-attempts', count: 22 }, { reason: 'poison', count: 8 }] });
    expect((await dlq.list({ reason: 'poison', correlation: 'd2' }, { limit: 50 })).deadLetters.map((l) => l.id)).toEqual([29, 25, 21]);
  });
});
