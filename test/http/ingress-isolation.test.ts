/**
 * Issue 13: the inbox answers at once, whatever the processing does.
 *
 * - With the ingress worker, `POST /inbox` answers 202 while the runtime's own thread is
 *   stopped dead inside a handler (a synchronous wait, released only by the poster once it has
 *   all its answers): the answers came while processing could not run at all.
 * - With the concurrency saturated by handlers that wait for the test, the inbox keeps
 *   answering 202 while those envelopes are unprocessed, and with `inbox.maxPending` the post
 *   past the limit gets 503 overloaded with Retry-After (nothing stored); once processing
 *   catches up, the inbox accepts again. Both ingress modes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Worker } from 'node:worker_threads';
import { jetstreamManager } from '@nats-io/jetstream';
import { startNatsServer, type NatsServerHandle } from '../support/nats-server.ts';
import { makeFixture } from '../support/runtime-fixture.ts';
import { waitFor } from '../support/wait-for.ts';
import { startMailroom } from '../../src/mailroom/start-mailroom.ts';
import type { Mailroom } from '../../src/core/mailroom-types.ts';
import { connectNats } from '../../src/transport/connect.ts';
import type { NatsConnection } from '@nats-io/transport-node';
import { startObservability } from '../../src/observability/observability.ts';
import { parsePrometheus, sampleKey } from '../observability/prometheus-text.ts';

const json = { 'content-type': 'application/json' };
let server: NatsServerHandle;
let nc: NatsConnection;
const stops: (() => Promise<void>)[] = [];

beforeAll(async () => {
  server = await startNatsServer();
  nc = await connectNats({ url: server.url, name: 'ingress-isolation-test' });
});
afterAll(async () => {
  for (const stop of stops.reverse()) await stop().catch(() => undefined);
  await nc?.close();
  await server?.stop();
});

/**
 * A thread that waits until the runtime's thread is blocked (flags[1] = 1), posts every body,
 * then releases it (flags[0] = 1) and reports the status codes it got. The release comes only
 * after the last answer, or after `giveUpMs` (so a broken ingress fails the test instead of hanging it).
 */
const POSTER = `
const { workerData, parentPort } = require('node:worker_threads');
const { url, bodies, flags: buffer, giveUpMs } = workerData;
const flags = new Int32Array(buffer);
(async () => {
  Atomics.wait(flags, 1, 0);
  const codes = [];
  const answeredWhileBlocked = [];
  for (const body of bodies) {
    try {
      const res = await fetch(url + '/inbox', { method: 'POST', headers: { 'content-type': 'application/json' }, body, signal: AbortSignal.timeout(giveUpMs) });
      codes.push(res.status);
      await res.arrayBuffer();
    } catch (error) {
      codes.push(String(error && error.name));
    }
    answeredWhileBlocked.push(Atomics.load(flags, 0) === 0);
  }
  Atomics.store(flags, 0, 1);
  Atomics.notify(flags, 0);
  parentPort.postMessage({ codes, answeredWhileBlocked });
})();
`;

describe('ingress: worker, the runtime thread stopped dead in a handler', () => {
  it('answers 202 to every post while the runtime thread cannot run at all; the envelopes are processed after', async () => {
    const fixture = await makeFixture({ natsUrl: server.url, local: ['shop.example'], remote: ['partner.example'], extra: { delivery: { concurrency: 1 } } });
    const flags = new Int32Array(new SharedArrayBuffer(8));
    const mailroom = await startMailroom(fixture.config, {
      ingress: 'worker',
      outboxWorker: false,
      onError: () => undefined,
      handlers: {
        'shop.example': {
          // Blocks this whole thread (the runtime's, and this test's) until the poster releases it.
          'Freeze@Host': () => {
            Atomics.store(flags, 1, 1);
            Atomics.notify(flags, 1);
            Atomics.wait(flags, 0, 0);
            return { thawed: true };
          },
          'Hello@Host': ({ body }) => ({ echo: body }),
        },
      },
    });
    stops.push(() => mailroom.stop());
    const partner = fixture.domains['partner.example']!;
    const bodies = Array.from({ length: 20 }, (_, n) => partner.signed({ To: 'shop.example', Subject: 'Hello@Host', Body: { n } }));
    const poster = new Worker(POSTER, { eval: true, workerData: { url: mailroom.url, bodies, flags: flags.buffer, giveUpMs: 20_000 } });
    const report = new Promise<{ codes: (number | string)[]; answeredWhileBlocked: boolean[] }>((resolve, reject) => {
      poster.once('message', resolve);
      poster.once('error', reject);
    });
    const settled: string[] = [];
    mailroom.events.on('settled', (status) => settled.push(status.subject));

    const freeze = partner.sign({ To: 'shop.example', Subject: 'Freeze@Host', Body: {} });
    expect((await fetch(`${mailroom.url}/inbox`, { method: 'POST', headers: json, body: JSON.stringify(freeze) })).status).toBe(202);
    // From here the handler blocks this thread; the poster posts, then releases it.
    const { codes, answeredWhileBlocked } = await report;
    await poster.terminate();
    expect(codes).toEqual(bodies.map(() => 202));
    expect(answeredWhileBlocked).toEqual(bodies.map(() => true));
    await waitFor(() => settled.length === bodies.length + 1, { what: 'every envelope processed after the thaw', timeoutMs: 20_000 });
    expect(settled[0]).toBe('Freeze@Host');
  }, 60_000);
});

describe.each(['inline', 'worker'] as const)('ingress: %s, concurrency saturated by waiting handlers', (ingress) => {
  let mailroom: Mailroom;
  let fixture: Awaited<ReturnType<typeof makeFixture>>;
  const releases: (() => void)[] = [];
  const settled: string[] = [];
  const MAX_PENDING = 12;
  const CONCURRENCY = 2;
  beforeAll(async () => {
    fixture = await makeFixture({ natsUrl: server.url, local: ['shop.example'], remote: ['partner.example'], extra: { delivery: { concurrency: CONCURRENCY }, inbox: { maxPending: MAX_PENDING, retryAfter: '3s' } } });
    const observability = await startObservability({ metrics: { defaultMetrics: false }, dashboard: false, tracing: false });
    mailroom = await startMailroom(fixture.config, {
      ...observability.mailroomOptions,
      ingress,
      outboxWorker: false,
      onError: () => undefined,
      handlers: { 'shop.example': { 'Hold@Host': () => new Promise((resolve) => releases.push(() => resolve({ released: true }))) } },
    });
    observability.attach(mailroom);
    mailroom.events.on('settled', (status) => settled.push(status.correlation));
    stops.push(async () => {
      for (const release of releases) release();
      await mailroom.stop();
      await observability.stop();
    });
  });

  it(`answers 202 while ${CONCURRENCY} envelopes are held and the rest wait unprocessed; past inbox.maxPending 503 + Retry-After; accepts again once drained`, async () => {
    const partner = fixture.domains['partner.example']!;
    const post = (body: string) => fetch(`${mailroom.url}/inbox`, { method: 'POST', headers: json, body });
    const envelope = (n: number) => partner.signed({ To: 'shop.example', Subject: 'Hold@Host', Body: { n } });
    for (let n = 0; n < CONCURRENCY; n++) expect((await post(envelope(n))).status).toBe(202);
    await waitFor(() => releases.length === CONCURRENCY, { what: 'the concurrency saturated' });

    // Processing is saturated: every further post is answered while nothing settles.
    for (let n = CONCURRENCY; n < MAX_PENDING; n++) {
      const res = await post(envelope(n));
      expect(res.status, `post ${n}`).toBe(202);
      expect(((await res.json()) as { state: string }).state).toBe('queued');
    }
    expect(settled).toEqual([]);
    const jsm = await jetstreamManager(nc);
    const info = await jsm.consumers.info(mailroom.names.streams.inbox, mailroom.names.consumers.inbox);
    expect(info.num_pending + info.num_ack_pending).toBe(MAX_PENDING);

    // At the limit: refused at once, nothing stored.
    const refused = await post(envelope(MAX_PENDING));
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBe('3');
    expect(await refused.json()).toMatchObject({ error: 'overloaded' });
    expect((await jsm.streams.info(mailroom.names.streams.inbox)).state.messages).toBe(MAX_PENDING);
    expect(releases.length).toBe(CONCURRENCY);
    expect(settled).toEqual([]);

    // /metrics material: the refusal and the latency of each answer, wherever the inbox runs.
    const snapshot = (await mailroom.inboxMetrics())!;
    expect(snapshot.codes).toEqual({ 202: MAX_PENDING, 503: 1 });
    expect(snapshot.shed).toBe(1);
    expect(snapshot.count).toBe(MAX_PENDING + 1);
    const scraped = await fetch(`${mailroom.url}/metrics`);
    expect(scraped.status).toBe(200);
    const m = parsePrometheus(await scraped.text());
    const value = (name: string, labels?: Record<string, string>) => m.get(sampleKey(name, labels));
    expect(value('mailroom_inbox_request_duration_seconds_count')).toBe(MAX_PENDING + 1);
    expect(value('mailroom_inbox_request_duration_seconds_bucket', { le: '+Inf' })).toBe(MAX_PENDING + 1);
    expect(value('mailroom_inbox_requests_total', { code: '503' })).toBe(1);
    expect(value('mailroom_inbox_shed_total')).toBe(1);
    expect(value('mailroom_envelopes_accepted_total')).toBe(MAX_PENDING);
    expect(value('mailroom_inbox_backlog')).toBe(MAX_PENDING);

    // Processing catches up: the backlog drains in JetStream and the inbox takes envelopes again.
    const release = setInterval(() => releases.splice(0).forEach((r) => r()), 20);
    try {
      await waitFor(() => settled.length === MAX_PENDING, { what: 'the backlog processed', timeoutMs: 20_000 });
      const again = await waitFor(async () => {
        const res = await post(envelope(MAX_PENDING + 1));
        return res.status === 202 ? res : undefined;
      }, { what: 'the inbox to accept again' });
      expect(again.status).toBe(202);
    } finally {
      clearInterval(release);
    }
  }, 60_000);
});
