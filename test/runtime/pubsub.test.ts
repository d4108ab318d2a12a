/** Publish/subscribe: fan-out, one durable copy and one envelope actor per subscriber. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNatsServer, type NatsServerHandle } from '../support/nats-server.ts';
import { makeFixture, type Fixture } from '../support/runtime-fixture.ts';
import { waitFor } from '../support/wait-for.ts';
import { startMailroom } from '../../src/mailroom/start-mailroom.ts';
import type { Mailroom, MailroomOptions } from '../../src/core/mailroom-types.ts';
import { RetryableError, type HandlerContext } from '../../src/runtime/handlers.ts';
import type { EnvelopeStatus } from '../../src/runtime/status-store.ts';

let server: NatsServerHandle;
let fixture: Fixture;
const got: { domain: string; ctx: HandlerContext }[] = [];
let shippingFailures = 1;

beforeAll(async () => {
  server = await startNatsServer();
  fixture = await makeFixture({
    natsUrl: server.url,
    local: ['orders.example', 'invoicing.example', 'shipping.example', 'audit.example'],
    extra: {
      topics: { 'order.placed': { subscribers: ['invoicing.example', 'shipping.example'] } },
      // A short ack wait: an envelope in transit to a stopping runtime is redelivered after it.
      delivery: { ackWait: '2s', retry: { initialDelay: 20, maxDelay: 100 } },
    },
  });
});
afterAll(async () => {
  await server?.stop();
});

const options = (): MailroomOptions => ({
  handlers: {
    'invoicing.example': { 'order.placed': (ctx) => void got.push({ domain: 'invoicing.example', ctx }) },
    'shipping.example': {
      'order.placed': (ctx) => {
        if (shippingFailures-- > 0) throw new RetryableError('the carrier is down', 10);
        got.push({ domain: 'shipping.example', ctx });
      },
    },
  },
  onError: () => undefined,
});

describe('publish/subscribe', () => {
  let mailroom: Mailroom;
  const settled: EnvelopeStatus[] = [];
  beforeAll(async () => {
    mailroom = await startMailroom(fixture.config, options());
    mailroom.events.on('settled', (s) => settled.push(s));
  });
  afterAll(async () => {
    await mailroom?.stop();
  });

  it('fans an event out to every subscriber, config and run-time ones, each with its own actor', async () => {
    const audited: HandlerContext[] = [];
    await mailroom.subscribe('order.placed', 'audit.example', (ctx) => void audited.push(ctx));
    const publication = await mailroom.publish({ from: 'orders.example', topic: 'order.placed', body: { order: 17 } });
    expect(publication.deliveries.map((d) => d.subscriber)).toEqual(['audit.example', 'invoicing.example', 'shipping.example']);
    expect(new Set(publication.deliveries.map((d) => d.correlation)).size).toBe(3);

    await waitFor(() => audited.length === 1 && got.filter((g) => g.ctx.body && (g.ctx.body as { order: number }).order === 17).length === 2);
    for (const { subscriber, correlation } of publication.deliveries) {
      const status = await waitFor(() => settled.find((s) => s.correlation === correlation && s.final));
      expect(status).toMatchObject({ from: 'orders.example', to: subscriber, subject: 'order.placed' });
    }
    // The failing subscriber was retried on its own; the others were not held back or repeated.
    const shipping = settled.find((s) => s.to === 'shipping.example' && s.final && s.subject === 'order.placed');
    expect(shipping?.attempt).toBe(2);
    expect(got.filter((g) => g.domain === 'invoicing.example')).toHaveLength(1);

    await mailroom.unsubscribe('order.placed', 'audit.example');
    const again = await mailroom.publish({ from: 'orders.example', topic: 'order.placed', body: { order: 18 } });
    expect(again.deliveries.map((d) => d.subscriber)).toEqual(['invoicing.example', 'shipping.example']);
  });

  it('publishing the same event twice delivers it once per subscriber', async () => {
    const first = await mailroom.publish({ from: 'orders.example', topic: 'order.placed', body: { order: 19 }, eventId: 'evt-19' });
    await mailroom.publish({ from: 'orders.example', topic: 'order.placed', body: { order: 19 }, eventId: 'evt-19' });
    for (const d of first.deliveries) await waitFor(() => settled.find((s) => s.correlation === d.correlation && s.final));
    const marker = await mailroom.publish({ from: 'orders.example', topic: 'order.placed', body: { order: 20 } });
    for (const d of marker.deliveries) await waitFor(() => settled.find((s) => s.correlation === d.correlation && s.final));
    expect(got.filter((g) => (g.ctx.body as { order: number }).order === 19)).toHaveLength(2);
  });
});

describe('publish/subscribe across a restart', () => {
  it('events published just before a stop reach every subscriber after the restart', async () => {
    const first = await startMailroom(fixture.config, { ...options(), onError: () => undefined });
    const publication = await first.publish({ from: 'orders.example', topic: 'order.placed', body: { order: 99 } });
    await first.stop();
    const second = await startMailroom(fixture.config, options());
    try {
      await waitFor(() => got.filter((g) => (g.ctx.body as { order: number }).order === 99).length === publication.deliveries.length, { what: 'every subscriber got order 99', timeoutMs: 20_000 });
    } finally {
      await second.stop();
    }
  });
});
