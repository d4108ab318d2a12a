/**
 * A backlog of 10,000 dead letters (real nats-server): the first page, a rare filter stopped by
 * the scan cap, counts by reason over all of them, and a bulk replay of the whole confirmed set
 * with the real DeadLetterStore (each back on its subject, none left). Prints how long each took.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import { startNatsServer, type NatsServerHandle } from '../support/nats-server.ts';
import { createNames } from '../../src/transport/names.ts';
import { DeadLetterStore } from '../../src/runtime/dead-letter-store.ts';
import { DeadLetterQuery } from '../../src/runtime/dead-letter-query.ts';

const N = 10_000;
const names = createNames('qm');
let server: NatsServerHandle;
let nc: NatsConnection;
let js: JetStreamClient;
let jsm: JetStreamManager;
let query: DeadLetterQuery;
const timings: string[] = [];
const timed = async <T>(what: string, run: () => Promise<T>): Promise<T> => {
  const started = performance.now();
  const result = await run();
  timings.push(`${what}: ${(performance.now() - started).toFixed(0)} ms`);
  return result;
};

beforeAll(async () => {
  server = await startNatsServer();
  nc = await connect({ servers: server.url });
  js = jetstream(nc);
  jsm = await jetstreamManager(nc);
  await jsm.streams.add({ name: names.streams.dlq, subjects: ['qm.test.dlq.>'] });
  await jsm.streams.add({ name: 'QM_REPLAYED', subjects: ['qm.test.inbox.>'] });
  const body = 'x'.repeat(400);
  for (let i = 0; i < N; i += 500) {
    await Promise.all(
      Array.from({ length: 500 }, (_, k) => {
        const n = i + k;
        const envelope = { Header: { From: 'orders.example', To: 'shop.example', Subject: n % 1000 === 3 ? 'Rare@Shop' : 'Pay@Shop', Correlation: `c${n}` }, Body: { n, body } };
        const record = { reason: n % 10 ? 'max-attempts' : 'poison', lastState: 'handling', detail: 'down', attempts: 5, history: [], stream: 'QM_INBOX', streamSequence: n + 1, subject: `qm.test.inbox.${n % 7}`, deadLetteredAt: new Date().toISOString(), data: Buffer.from(JSON.stringify(envelope)).toString('base64') };
        return js.publish('qm.test.dlq.shop', JSON.stringify(record));
      }),
    );
  }
  query = new DeadLetterQuery({ js, jsm }, names.streams, new DeadLetterStore(js, jsm, names));
}, 180_000);
afterAll(async () => {
  if (timings.length) process.stdout.write(`\n[dead-letter-query, ${N} dead letters]\n  ${timings.join('\n  ')}\n`);
  await nc?.close();
  await server?.stop();
});

describe('a backlog of 10,000 dead letters', () => {
  it('pages, filters within the scan cap, counts by reason, and replays the confirmed set', { timeout: 300_000 }, async () => {
    const first = await timed('first page (50, no filter)', () => query.list({}, { limit: 50 }));
    expect(first.deadLetters.map((l) => l.envelope.correlation)).toEqual(Array.from({ length: 50 }, (_, k) => `c${N - 1 - k}`));

    const rare = await timed('a 1-in-1000 filter, first page (cap 5,000)', () => query.list({ subject: 'rare' }, { limit: 50 }));
    expect(rare).toMatchObject({ scanned: 5_000, capped: true });
    expect(rare.deadLetters).toHaveLength(5);
    const rest = await query.list({ subject: 'rare' }, { limit: 50, cursor: rare.next! });
    expect(rest.deadLetters).toHaveLength(5);
    expect(rest.capped).toBe(false);

    const groups = await timed('counts by reason (all 10,000)', () => query.groups({}));
    expect(groups).toMatchObject({ total: N, capped: false, groups: [{ reason: 'max-attempts', count: 9_000 }, { reason: 'poison', count: 1_000 }] });

    const replay = await timed('bulk replay of all 10,000', () => query.bulk('replay', {}, groups.upTo, { by: 'test' }));
    expect(replay.done).toHaveLength(N);
    expect(replay.failed).toEqual([]);
    expect(replay.remaining).toBe(false);
    expect((await jsm.streams.info(names.streams.dlq)).state.messages).toBe(0);
    expect((await jsm.streams.info('QM_REPLAYED')).state.messages).toBe(N);
  });
});
