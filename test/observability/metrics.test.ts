/**
 * `GET /metrics` after a known set of envelopes: exact counter values, the in-flight gauge
 * moving with a held handler, the handler latency histogram and the JetStream depths.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNatsServer, type NatsServerHandle } from '../support/nats-server.ts';
import { makeFixture, type Fixture } from '../support/runtime-fixture.ts';
import { waitFor } from '../support/wait-for.ts';
import { startMailroom } from '../../src/mailroom/start-mailroom.ts';
import type { Mailroom } from '../../src/core/mailroom-types.ts';
import type { EnvelopeStatus } from '../../src/runtime/status-store.ts';
import { encodeEnvelope } from '../../src/envelope/index.ts';
import { startObservability, type Observability } from '../../src/observability/observability.ts';
import { parsePrometheus, sampleKey } from './prometheus-text.ts';

let server: NatsServerHandle;
let fixture: Fixture;
let observability: Observability;
let mailroom: Mailroom;
const settled: EnvelopeStatus[] = [];
let releaseSlow: (() => void) | undefined;

beforeAll(async () => {
  server = await startNatsServer();
  // orders.example only sends (its keys are trusted): replies wait in the outbox, which is not running here.
  fixture = await makeFixture({ natsUrl: server.url, local: ['shop.example'], remote: ['orders.example'] });
  observability = await startObservability({ metrics: { defaultMetrics: false }, dashboard: false, tracing: false });
  mailroom = await startMailroom(fixture.config, {
    ...observability.mailroomOptions,
    handlers: {
      'shop.example': {
        'Hello@Host': ({ body }) => ({ echo: body }),
        'Slow@Host': () => new Promise((resolve) => (releaseSlow = () => resolve({ slow: true }))),
      },
    },
    outboxWorker: false,
  });
  observability.attach(mailroom);
  mailroom.events.on('settled', (status) => settled.push(status));
});
afterAll(async () => {
  releaseSlow?.();
  await mailroom?.stop();
  await observability?.stop();
  await server?.stop();
});

const post = (body: string) => fetch(`${mailroom.url}/inbox`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
const scrape = async () => {
  const res = await fetch(`${mailroom.url}/metrics`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  return parsePrometheus(await res.text());
};

describe('GET /metrics', () => {
  it('counts 2 replied, 1 discarded for hash-mismatch and 1 for unknown-subject, exactly', async () => {
    const orders = fixture.domains['orders.example']!;
    const first = orders.signed({ To: 'shop.example', Subject: 'Hello@Host', Body: { n: 1 } });
    const tampered = orders.sign({ To: 'shop.example', Subject: 'Hello@Host', Body: { n: 3 } });
    const bodies = [
      first,
      orders.signed({ To: 'shop.example', Subject: 'Hello@Host', Body: { n: 2 } }),
      encodeEnvelope({ ...tampered, Body: { n: 4 } }),
      orders.signed({ To: 'shop.example', Subject: 'Nope@Host' }),
    ];
    for (const body of bodies) expect((await post(body)).status).toBe(202);
    expect((await post(first)).status).toBe(202); // a duplicate: stored once
    expect((await post('{"not": "an envelope"}')).status).toBe(400);
    await waitFor(() => settled.length >= 4, { what: 'four envelopes to settle' });

    const m = await scrape();
    const value = (name: string, labels?: Record<string, string>) => m.get(sampleKey(name, labels));
    expect(value('mailroom_envelopes_accepted_total')).toBe(4);
    expect(value('mailroom_inbox_duplicates_total')).toBe(1);
    expect(value('mailroom_inbox_requests_total', { code: '202' })).toBe(5);
    expect(value('mailroom_inbox_requests_total', { code: '400' })).toBe(1);
    expect(value('mailroom_envelopes_replied_total')).toBe(2);
    expect(value('mailroom_envelopes_discarded_total', { reason: 'hash-mismatch' })).toBe(1);
    expect(value('mailroom_envelopes_discarded_total', { reason: 'unknown-subject' })).toBe(1);
    expect([...m.keys()].filter((k) => k.startsWith('mailroom_envelopes_discarded_total'))).toHaveLength(2);
    expect(value('mailroom_envelopes_settled_total', { state: 'replied' })).toBe(2);
    expect(value('mailroom_envelopes_settled_total', { state: 'noFeedback' })).toBe(2);
    expect([...m.keys()].filter((k) => k.startsWith('mailroom_envelopes_dead_lettered_total'))).toEqual([]);
    expect(value('mailroom_envelopes_retried_total')).toBe(0);
    // Only the two valid envelopes reached a handler; both went on to reply.
    expect(value('mailroom_handler_duration_seconds_count', { subject: 'Hello@Host', outcome: 'replying' })).toBe(2);
    expect(value('mailroom_handler_duration_seconds_bucket', { subject: 'Hello@Host', outcome: 'replying', le: '+Inf' })).toBe(2);
    // Nothing is in flight any more.
    expect([...m.keys()].filter((k) => k.startsWith('mailroom_envelopes_in_flight'))).toEqual([]);
    // JetStream depths at scrape time: the inbox is drained; the two replies wait in the outbox.
    expect(value('mailroom_stats_up')).toBe(1);
    expect(value('mailroom_jetstream_consumer_pending', { queue: 'inbox' })).toBe(0);
    expect(value('mailroom_jetstream_consumer_pending', { queue: 'outbox' })).toBe(2);
    expect(value('mailroom_jetstream_consumer_ack_pending', { queue: 'inbox' })).toBe(0);
    expect(value('mailroom_dead_letters')).toBe(0);
  });

  it('shows an actor in flight in its state while its handler runs, and times the handler', async () => {
    const orders = fixture.domains['orders.example']!;
    expect((await post(orders.signed({ To: 'shop.example', Subject: 'Slow@Host' }))).status).toBe(202);
    const held = await waitFor(async () => {
      const m = await scrape();
      return m.get(sampleKey('mailroom_envelopes_in_flight', { state: 'handling' })) === 1 ? m : undefined;
    }, { what: 'one actor in handling' });
    expect(held.get(sampleKey('mailroom_jetstream_consumer_ack_pending', { queue: 'inbox' }))).toBe(1);
    const startedAt = Date.now();
    await waitFor(() => releaseSlow !== undefined);
    await new Promise((resolve) => setTimeout(resolve, 120)); // the handler's run time, to be measured
    releaseSlow!();
    await waitFor(() => settled.length >= 5, { what: 'the slow envelope to settle' });
    const m = await scrape();
    expect([...m.keys()].filter((k) => k.startsWith('mailroom_envelopes_in_flight'))).toEqual([]);
    expect(m.get(sampleKey('mailroom_envelopes_replied_total'))).toBe(3);
    expect(m.get(sampleKey('mailroom_handler_duration_seconds_count', { subject: 'Slow@Host', outcome: 'replying' }))).toBe(1);
    const seconds = m.get(sampleKey('mailroom_handler_duration_seconds_sum', { subject: 'Slow@Host', outcome: 'replying' }))!;
    expect(seconds).toBeGreaterThanOrEqual(0.1);
    expect(seconds).toBeLessThan((Date.now() - startedAt) / 1000 + 0.5);
  });
});
