/**
 * Poison detection: an envelope whose every delivery dies with its process exhausts the
 * consumer's max_deliver; the runtime dead-letters it (reason `poison`) and clears it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { startNatsServer, type NatsServerHandle } from '../support/nats-server.ts';
import { makeFixture } from '../support/runtime-fixture.ts';
import { waitFor } from '../support/wait-for.ts';
import { connectNats } from '../../src/transport/connect.ts';
import { startMailroom } from '../../src/mailroom/start-mailroom.ts';

let server: NatsServerHandle;
let nc: NatsConnection;

beforeAll(async () => {
  server = await startNatsServer();
  nc = await connectNats({ url: server.url });
});
afterAll(async () => {
  await nc?.close();
  await server?.stop();
});

describe('poison envelopes', () => {
  it('are dead-lettered once max_deliver runs out, and leave the inbox', async () => {
    // maxAttempts 1: the consumer allows 3 deliveries (attempts + 2).
    const fixture = await makeFixture({ natsUrl: server.url, local: ['shop.example'], remote: ['orders.example'], extra: { delivery: { maxAttempts: 1, ackWait: '1s' } } });
    const handlers = { 'shop.example': { 'Hello@Host': () => ({ ok: true }) } };
    // Provision, then stop: the test plays the process that dies with every delivery.
    const setup = await startMailroom(fixture.config, { handlers, http: false });
    const names = setup.names;
    await setup.stop();
    const envelope = fixture.domains['orders.example']!.sign({ To: 'shop.example', Subject: 'Hello@Host' });
    await jetstream(nc).publish(names.inboxSubject('shop.example', 'orders.example'), JSON.stringify(envelope));
    // Take it three times and never settle it, as a process that dies each time would.
    const consumer = await jetstream(nc).consumers.get(names.streams.inbox, names.consumers.inbox);
    for (let delivery = 1; delivery <= 3; delivery++) {
      const msg = await waitFor(async () => (await consumer.next({ expires: 2_000 })) ?? undefined, { what: `delivery ${delivery}`, timeoutMs: 10_000 });
      expect(msg.info.deliveryCount).toBe(delivery);
    }
    const mailroom = await startMailroom(fixture.config, { handlers, http: false });
    try {
      const letter = await waitFor(async () => (await mailroom.deadLetters.list())[0], { what: 'the poison dead letter', timeoutMs: 15_000 });
      expect(letter).toMatchObject({ reason: 'poison', attempts: 3, envelope: { correlation: envelope.Header.Correlation } });
      const jsm = await jetstreamManager(nc);
      await waitFor(async () => (await jsm.streams.info(names.streams.inbox)).state.messages === 0, { what: 'the inbox cleared' });
      // It can be replayed like any dead letter: now it is handled.
      await mailroom.deadLetters.replay(letter.id);
      const status = await waitFor(async () => {
        const s = await mailroom.status('orders.example', envelope.Header.Correlation);
        return s?.state === 'replied' ? s : undefined;
      });
      expect(status.attempt).toBe(1);
    } finally {
      await mailroom.stop();
    }
  }, 60_000);
});
