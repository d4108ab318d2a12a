/**
 * Node loss without an outage: one runtime on a real 3-node cluster with every stream and
 * bucket at 3 replicas, as the runtime provisions them (`nats.replicas: 3`). The inbox stream's leader is SIGKILLed while envelopes are posted,
 * and restarted later: every POST is answered 202 (a 503 carries Retry-After and is posted
 * again), every accepted envelope reaches a final status, and no reply is stored twice.
 * `/readyz` follows whether the inbox can store.
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
import type { Envelope } from '../../src/envelope/types.ts';
import { connectNats } from '../../src/transport/connect.ts';
import { awaitReplicas, leaderSpread } from './failover-support.ts';
import { parseConfig } from '../../src/config/index.ts';

const TOTAL = 300;
const KILL_AFTER = 100;
const RESTART_AFTER = 200;

describe('node loss on a 3-node cluster with R3 streams', () => {
  let cluster: NatsClusterHandle;
  let nc: NatsConnection;
  let jsm: JetStreamManager;
  let fixture: Fixture;
  let mailroom: Mailroom;
  const settledAt: number[] = [];

  beforeAll(async () => {
    cluster = await startNatsCluster();
    nc = await connectNats({ url: cluster.urls.join(','), name: 'failover-test', reconnectTimeWaitMs: 100, reconnectJitterMs: 100 });
    jsm = await jetstreamManager(nc);
    fixture = await makeFixture({
      natsUrl: cluster.urls.join(','),
      local: ['shop.example'],
      remote: ['orders.example'],
      extra: { delivery: { ackWait: '5s', maxAttempts: 10, retry: { initialDelay: 50, maxDelay: 500 } } },
    });
    const config = parseConfig({ ...fixture.input, nats: { ...(fixture.input.nats as object), replicas: 3 } }, { baseDir: fixture.dir, env: {} });
    mailroom = await startMailroom(config, { handlers: { 'shop.example': { 'Hello@Host': ({ body }) => ({ echo: body }) } }, outboxWorker: false });
    mailroom.events.on('settled', (status) => {
      if (status.final) settledAt.push(Date.now());
    });
    await awaitReplicas(jsm, fixture.prefix, 3);
    console.log(`failover: leaders per server ${JSON.stringify(await leaderSpread(jsm, fixture.prefix))}`);
  }, 120_000);
  afterAll(async () => {
    await mailroom?.stop();
    await nc?.close();
    await cluster?.stop();
  });

  it('answers every POST /inbox while the inbox leader is killed and restarted; nothing lost, no reply twice', async () => {
    const orders = fixture.domains['orders.example']!;
    const bodies = Array.from({ length: TOTAL }, (_, n) => JSON.stringify(orders.sign({ To: 'shop.example', Subject: 'Hello@Host', Body: { n } })));
    const correlations = bodies.map((b) => (JSON.parse(b) as Envelope).Header.Correlation);
    let refused = 0;
    let killed = -1;
    for (let i = 0; i < TOTAL; i++) {
      if (i === KILL_AFTER) {
        killed = await cluster.leaderOf(jsm, mailroom.names.streams.inbox);
        await cluster.kill(killed);
      }
      if (i === RESTART_AFTER) await cluster.restart(killed);
      for (;;) {
        const res = await fetch(`${mailroom.url}/inbox`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: bodies[i]! });
        if (res.status === 202) break;
        expect(res.status).toBe(503);
        expect(res.headers.get('retry-after')).toMatch(/^\d+$/);
        refused++;
      }
    }
    console.log(`failover: ${TOTAL} envelopes accepted, ${refused} POSTs answered 503 and posted again; node n${killed + 1} killed after ${KILL_AFTER}, restarted after ${RESTART_AFTER}`);

    // The inbox is a work queue: empty once every accepted envelope's message was acked (final).
    await waitFor(async () => (await jsm.streams.info(mailroom.names.streams.inbox)).state.messages === 0, { what: 'the inbox to empty', timeoutMs: 90_000 });
    const gap = Math.max(...settledAt.slice(1).map((t, i) => t - settledAt[i]!));
    console.log(`failover: the longest gap between two settled envelopes was ${gap} ms (reported, not asserted)`);
    // Each status read until it is final: a KV read may be answered by a replica still catching up (the restarted node).
    for (const c of correlations) await waitFor(async () => (await mailroom.status(orders.name, c))?.final, { what: `the final status of ${c} in the status bucket` });
    const replies = await readStream<Envelope>(nc, mailroom.names.streams.outbox);
    const perCorrelation = new Map<string, number>();
    for (const r of replies) perCorrelation.set(r.Header.Correlation, (perCorrelation.get(r.Header.Correlation) ?? 0) + 1);
    expect(correlations.filter((c) => perCorrelation.get(c) !== 1)).toEqual([]);
    expect(replies.length).toBe(TOTAL);
  }, 180_000);

  it('/readyz is 503 while the inbox stream has no quorum, 200 once it has', async () => {
    const ready = async () => (await fetch(`${mailroom.url}/readyz`)).status;
    await waitFor(async () => (await ready()) === 200, { what: '/readyz 200 with every node up', timeoutMs: 30_000 });
    const leader = await cluster.leaderOf(jsm, mailroom.names.streams.inbox);
    // Two of three down: no quorum, whichever node the runtime is connected to.
    const down = [0, 1, 2].filter((i) => i !== leader).slice(0, 1).concat(leader);
    for (const i of down) await cluster.kill(i);
    await waitFor(async () => (await ready()) === 503, { what: '/readyz 503 without a quorum', timeoutMs: 30_000 });
    for (const i of down) await cluster.restart(i).catch(() => undefined);
    await waitFor(async () => (await ready()) === 200, { what: '/readyz 200 once a quorum is back', timeoutMs: 60_000 });
  }, 180_000);
});
