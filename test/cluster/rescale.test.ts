/**
 * Raising replicas of a live, loaded deployment (R1 → R3 with `forceProvision`) on a real
 * 3-node cluster: a backlog waits in the inbox while its consumer exists — the runtime stopped,
 * or still running with handlers blocked on envelopes it holds — and a runtime configured for
 * 3 replicas rescales every stream and bucket. Every envelope then reaches a final status, and
 * no reply is stored twice.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { startNatsCluster, type NatsClusterHandle } from '../support/nats-cluster.ts';
import { makeFixture, type Fixture } from '../support/runtime-fixture.ts';
import { readStream } from '../support/stream-reads.ts';
import { waitFor } from '../support/wait-for.ts';
import { startMailroom } from '../../src/mailroom/start-mailroom.ts';
import type { Mailroom } from '../../src/core/mailroom-types.ts';
import type { Handler } from '../../src/runtime/handlers.ts';
import type { Envelope } from '../../src/envelope/types.ts';
import { connectNats } from '../../src/transport/connect.ts';
import { kvStreamName } from '../../src/transport/names.ts';
import { needsConsumerRenewalAfterRescale } from '../../src/transport/server-info.ts';
import { parseConfig, type MailroomConfig } from '../../src/config/index.ts';
import { awaitReplicas } from './failover-support.ts';

const BACKLOG = 150;

/** A handler that holds every envelope until `open()`; what it holds when its runtime stops is handed back. */
function gate(): { handler: Handler; open(): void; entered(): number } {
  let release!: () => void;
  const opened = new Promise<void>((resolve) => (release = resolve));
  let entered = 0;
  const handler: Handler = async ({ body, signal }) => {
    entered++;
    await Promise.race([opened, new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }))]);
    return { echo: body };
  };
  return { handler, open: () => release(), entered: () => entered };
}

describe('R1 → R3 rescale of an inbox with a backlog and a live consumer', () => {
  let cluster: NatsClusterHandle;
  let nc: NatsConnection;
  let jsm: JetStreamManager;
  const running: Mailroom[] = [];

  beforeAll(async () => {
    cluster = await startNatsCluster();
    nc = await connectNats({ url: cluster.urls.join(','), name: 'rescale-test', reconnectTimeWaitMs: 100 });
    jsm = await jetstreamManager(nc);
  }, 60_000);
  afterAll(async () => {
    for (const m of running) await m.stop().catch(() => undefined);
    await nc?.close();
    await cluster?.stop();
  });

  const fixtureFor = () =>
    makeFixture({
      natsUrl: cluster.urls.join(','),
      local: ['shop.example'],
      remote: ['orders.example'],
      extra: { delivery: { ackWait: '5s', maxAttempts: 10, stopGrace: '200ms', retry: { initialDelay: 50, maxDelay: 500 } } },
    });
  const configOf = (fixture: Fixture, nats: Record<string, unknown>): MailroomConfig =>
    parseConfig({ ...fixture.input, nats: { ...(fixture.input.nats as object), ...nats } }, { baseDir: fixture.dir, env: {} });
  const start = async (config: MailroomConfig, handler: Handler) => {
    const m = await startMailroom(config, { handlers: { 'shop.example': { 'Hello@Host': handler } }, outboxWorker: false, http: false });
    running.push(m);
    return m;
  };
  const stop = async (m: Mailroom) => {
    await m.stop();
    running.splice(running.indexOf(m), 1);
  };
  const everyStream = (m: Mailroom) => [...Object.values(m.names.streams), ...Object.values(m.names.buckets).map(kvStreamName)];

  /** Accepts BACKLOG envelopes through `m`, and gives back their correlations once the inbox holds them all. */
  async function backlog(fixture: Fixture, m: Mailroom): Promise<string[]> {
    const orders = fixture.domains['orders.example']!;
    const correlations: string[] = [];
    for (let n = 0; n < BACKLOG; n++) {
      const outcome = await m.accept(orders.signed({ To: 'shop.example', Subject: 'Hello@Host', Body: { n } }));
      if (outcome.kind !== 'accepted') throw new Error(`envelope ${n} not accepted: ${JSON.stringify(outcome)}`);
      correlations.push(outcome.correlation);
    }
    await waitFor(async () => (await jsm.streams.info(m.names.streams.inbox)).state.messages === BACKLOG, { what: `${BACKLOG} envelopes in the inbox`, timeoutMs: 30_000 });
    return correlations;
  }

  /** Every envelope final, the inbox empty, exactly one reply per correlation. */
  async function everyEnvelopeOnce(fixture: Fixture, m: Mailroom, correlations: readonly string[]): Promise<void> {
    const orders = fixture.domains['orders.example']!;
    // A work-queue stream removes a message once it is acked: it empties only if every ack reached the stream.
    await waitFor(async () => (await jsm.streams.info(m.names.streams.inbox)).state.messages === 0, { what: 'the inbox to empty', timeoutMs: 120_000 });
    for (const c of correlations) await waitFor(async () => (await m.status(orders.name, c))?.final, { what: `the final status of ${c}`, timeoutMs: 30_000 });
    const replies = await readStream<Envelope>(nc, m.names.streams.outbox);
    const per = new Map<string, number>();
    for (const r of replies) per.set(r.Header.Correlation, (per.get(r.Header.Correlation) ?? 0) + 1);
    expect(correlations.filter((c) => per.get(c) !== 1)).toEqual([]);
    expect(replies).toHaveLength(correlations.length);
    const consumer = await jsm.consumers.info(m.names.streams.inbox, m.names.consumers.inbox);
    expect(consumer.num_ack_pending).toBe(0);
    expect(consumer.num_pending).toBe(0);
  }

  it('runtime stopped with a backlog (some envelopes handed back mid-handler): a replicas-3 start rescales, and every envelope is settled once', async () => {
    const fixture = await fixtureFor();
    const held = gate();
    const first = await start(configOf(fixture, { replicas: 1 }), held.handler);
    const correlations = await backlog(fixture, first);
    await waitFor(() => held.entered() > 0, { what: 'a handler holding an envelope', timeoutMs: 30_000 });
    await stop(first);
    const before = await jsm.consumers.info(first.names.streams.inbox, first.names.consumers.inbox);
    expect(before.num_pending + before.num_ack_pending + before.num_redelivered).toBeGreaterThan(0);
    expect(before.delivered.consumer_seq).toBeGreaterThan(0);

    const second = await start(configOf(fixture, { replicas: 3, forceProvision: true }), ({ body }) => ({ echo: body }));
    for (const s of everyStream(second)) expect((await jsm.streams.info(s)).config.num_replicas).toBe(3);
    await everyEnvelopeOnce(fixture, second, correlations);
    await awaitReplicas(jsm, fixture.prefix, 3);
    await stop(second);
  }, 240_000);

  it('runtime still running with envelopes in its handlers: another start at replicas 3 rescales under it, and every envelope is settled once', async () => {
    const fixture = await fixtureFor();
    const held = gate();
    const first = await start(configOf(fixture, { replicas: 1 }), held.handler);
    const correlations = await backlog(fixture, first);
    await waitFor(() => held.entered() > 0, { what: 'a handler holding an envelope', timeoutMs: 30_000 });
    const before = await jsm.consumers.info(first.names.streams.inbox, first.names.consumers.inbox);
    expect(before.num_ack_pending).toBeGreaterThan(0);

    // A second process with the new setting: it rescales the streams the first one consumes from.
    const second = await start(configOf(fixture, { replicas: 3, forceProvision: true }), ({ body }) => ({ echo: body }));
    for (const s of everyStream(second)) expect((await jsm.streams.info(s)).config.num_replicas).toBe(3);
    held.open();
    await everyEnvelopeOnce(fixture, second, correlations);
    await awaitReplicas(jsm, fixture.prefix, 3);

    // The first process pulled from the consumer that was recreated under it: it still consumes.
    await stop(second);
    const orders = fixture.domains['orders.example']!;
    const more: string[] = [];
    for (let n = 0; n < 5; n++) {
      const outcome = await first.accept(orders.signed({ To: 'shop.example', Subject: 'Hello@Host', Body: { more: n } }));
      if (outcome.kind === 'accepted') more.push(outcome.correlation);
    }
    expect(more).toHaveLength(5);
    for (const c of more) await waitFor(async () => (await first.status(orders.name, c))?.final, { what: `the final status of ${c}, handled by the first process`, timeoutMs: 60_000 });
    await waitFor(async () => (await jsm.streams.info(first.names.streams.inbox)).state.messages === 0, { what: 'the inbox to empty again', timeoutMs: 30_000 });
    await stop(first);
  }, 240_000);

  it('recreates consumers after a replicas change only on servers that need it', () => {
    expect(needsConsumerRenewalAfterRescale('2.9.10')).toBe(true);
    expect(needsConsumerRenewalAfterRescale('2.9.25')).toBe(true);
    expect(needsConsumerRenewalAfterRescale('2.10.0')).toBe(false);
    expect(needsConsumerRenewalAfterRescale('2.11.3')).toBe(false);
    expect(needsConsumerRenewalAfterRescale('not-a-version')).toBe(true);
  });
});
