/**
 * Workflows and domains: a workflow sends signed envelopes with `fromRequest()` and gets the
 * reply (or the discard, or the timeout) back as an event; envelopes start workflows and
 * signal them by ID or by correlation. One runtime hosts every domain, against a real
 * nats-server; the envelopes go through the inbox, the actors and the outbox like any other.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assign, setup } from 'xstate';
import { startNatsServer, type NatsServerHandle } from '../support/nats-server.ts';
import { makeFixture, type Fixture } from '../support/runtime-fixture.ts';
import { waitFor } from '../support/wait-for.ts';
import { startMailroom } from '../../src/mailroom/start-mailroom.ts';
import type { Mailroom } from '../../src/core/mailroom-types.ts';
import { FinalError } from '../../src/runtime/handlers.ts';
import { encodeEnvelope } from '../../src/envelope/index.ts';
import { fromRequest, type WorkflowRequest } from '../../src/workflows/activity.ts';

let server: NatsServerHandle;
let f: Fixture;
let mailroom: Mailroom;

const reserve = setup({
  types: { context: {} as { sku: string; outcome: unknown }, input: {} as { sku: string; timeoutMs?: number } },
  actors: { ask: fromRequest() },
}).createMachine({
  id: 'reserve',
  context: ({ input }) => ({ sku: input.sku, outcome: null }),
  initial: 'asking',
  states: {
    asking: {
      invoke: {
        src: 'ask',
        input: ({ context }): WorkflowRequest => ({ from: 'shop.example', to: 'warehouse.example', subject: 'Reserve@Warehouse', body: { sku: context.sku }, timeoutMs: 1_500 }),
        onDone: { target: 'reserved', actions: assign({ outcome: ({ event }) => event.output.reply.body }) },
        onError: { target: 'failed', actions: assign({ outcome: ({ event }) => event.error }) },
      },
    },
    reserved: { type: 'final' },
    failed: { type: 'final' },
  },
});

const order = setup({
  types: { context: {} as { items: unknown; notes: string[] }, events: {} as { type: 'Cancel@Shop'; envelope: { body: { why: string } } } | { type: 'Pay@Shop' } },
}).createMachine({
  id: 'order',
  context: ({ input }) => ({ items: (input as { items?: unknown }).items ?? null, notes: [] }),
  initial: 'open',
  states: {
    open: {
      on: {
        'Pay@Shop': 'paid',
        'Cancel@Shop': { target: 'cancelled', actions: assign({ notes: ({ context, event }) => [...context.notes, event.envelope.body.why] }) },
      },
    },
    paid: { type: 'final' },
    cancelled: { type: 'final' },
  },
});

beforeAll(async () => {
  server = await startNatsServer();
  f = await makeFixture({
    natsUrl: server.url,
    local: ['shop.example', 'warehouse.example', 'buffer.example'],
    remote: ['customer.example', 'bank.example'],
    feedback: { 'shop.example': 'buffer.example' },
  });
  mailroom = await startMailroom(f.config, {
    http: false,
    onError: () => undefined,
    handlers: {
      'warehouse.example': {
        'Reserve@Warehouse': ({ body }) => {
          const sku = (body as { sku: string }).sku;
          if (sku === 'unknown') throw new FinalError('no such sku', 'unknown-sku');
          if (sku === 'slow') return undefined; // no reply at all
          return { reserved: sku, shelf: 'B4' };
        },
      },
    },
    workflows: [
      { machine: reserve },
      {
        machine: order,
        options: {
          triggers: [
            { domain: 'shop.example', subject: 'Order@Shop', start: (env) => ({ id: `order-${(env.Body as { id: string }).id}`, input: env.Body }) },
            { domain: 'shop.example', subject: 'Cancel@Shop', signal: true },
            { domain: 'shop.example', subject: 'Pay@Shop', signal: (env) => ({ id: `order-${(env.Body as { id: string }).id}`, event: { type: 'Pay@Shop' } }) },
          ],
        },
      },
    ],
  });
});
afterAll(async () => {
  await mailroom?.stop();
  await server?.stop();
});

describe('a workflow asks a domain', () => {
  it('gets the reply as the done event of its fromRequest actor', async () => {
    await mailroom.workflows.start('reserve', { sku: 'book' }, { id: 'reserve-ok' });
    const done = await mailroom.workflows.waitFor('reserve-ok', 'done', { timeoutMs: 15_000 });
    expect(done).toMatchObject({ state: 'reserved', context: { outcome: { reserved: 'book', shelf: 'B4' } } });
  });

  it('gets a discard (the feedback) as the error event', async () => {
    await mailroom.workflows.start('reserve', { sku: 'unknown' }, { id: 'reserve-discarded' });
    const done = await mailroom.workflows.waitFor('reserve-discarded', 'done', { timeoutMs: 15_000 });
    expect(done).toMatchObject({ state: 'failed', context: { outcome: { name: 'ConversationDiscarded' } } });
  });

  it('gets no reply as a timeout error, on the conversation’s durable timer', async () => {
    await mailroom.workflows.start('reserve', { sku: 'slow' }, { id: 'reserve-slow' });
    const waiting = await mailroom.workflows.get('reserve-slow');
    expect(waiting?.activities).toEqual([expect.objectContaining({ kind: 'request', src: 'ask' })]);
    const done = await mailroom.workflows.waitFor('reserve-slow', 'done', { timeoutMs: 15_000 });
    expect(done).toMatchObject({ state: 'failed', context: { outcome: { name: 'ConversationTimedOut' } } });
  });
});

describe('envelopes start and signal workflows', () => {
  const customer = () => f.domains['customer.example']!;

  it('an envelope starts a workflow, another signals it by correlation, one by ID', async () => {
    const correlation = crypto.randomUUID();
    const placed = customer().sign({ To: 'shop.example', Subject: 'Order@Shop', Correlation: correlation, Body: { id: 'A1', items: ['tea'] } });
    expect((await mailroom.accept(encodeEnvelope(placed))).kind).toBe('accepted');
    const started = await waitFor(() => mailroom.workflows.get('order-A1'), { what: 'the order workflow' });
    expect(started).toMatchObject({ status: 'running', state: 'open', context: { items: ['tea'] } });
    const status = await waitFor(async () => (await mailroom.status('customer.example', correlation))?.final && (await mailroom.status('customer.example', correlation)));
    expect(status).toMatchObject({ state: 'replied' });

    // Another domain (the customer's bank) writes about the same order under its correlation: the
    // workflow that correlation started gets it as an event. (The same sender could not reuse the
    // correlation: the replay guard refuses it.)
    const cancel = f.domains['bank.example']!.sign({ To: 'shop.example', Subject: 'Cancel@Shop', Correlation: correlation, Body: { why: 'card blocked' } });
    expect((await mailroom.accept(encodeEnvelope(cancel))).kind).toBe('accepted');
    const cancelled = await mailroom.workflows.waitFor('order-A1', 'done', { timeoutMs: 15_000 });
    expect(cancelled).toMatchObject({ state: 'cancelled', context: { notes: ['card blocked'] } });
  });

  // customer.example names no feedback buffer: a discard of its envelope ends in `noFeedback`.
  it('signals by ID; an envelope for an ended or unknown workflow is discarded with a reason', async () => {
    const placed = customer().sign({ To: 'shop.example', Subject: 'Order@Shop', Correlation: crypto.randomUUID(), Body: { id: 'B2' } });
    await mailroom.accept(encodeEnvelope(placed));
    await waitFor(() => mailroom.workflows.get('order-B2'), { what: 'the order workflow' });
    const pay = customer().sign({ To: 'shop.example', Subject: 'Pay@Shop', Correlation: crypto.randomUUID(), Body: { id: 'B2' } });
    await mailroom.accept(encodeEnvelope(pay));
    expect(await mailroom.workflows.waitFor('order-B2', 'done', { timeoutMs: 15_000 })).toMatchObject({ state: 'paid' });

    const late = customer().sign({ To: 'shop.example', Subject: 'Pay@Shop', Correlation: crypto.randomUUID(), Body: { id: 'B2' } });
    await mailroom.accept(encodeEnvelope(late));
    const refused = await waitFor(async () => {
      const s = await mailroom.status('customer.example', late.Header.Correlation);
      return s?.final ? s : undefined;
    });
    expect(refused).toMatchObject({ state: 'noFeedback', discard: { reason: 'workflow-refused' } });
    const stray = customer().sign({ To: 'shop.example', Subject: 'Cancel@Shop', Correlation: crypto.randomUUID(), Body: { why: 'no order' } });
    await mailroom.accept(encodeEnvelope(stray));
    const unknown = await waitFor(async () => {
      const s = await mailroom.status('customer.example', stray.Header.Correlation);
      return s?.final ? s : undefined;
    });
    expect(unknown).toMatchObject({ state: 'noFeedback', discard: { reason: 'no-workflow' } });
  });
});
