/**
 * The README's library snippets, as a consumer writes them against the installed package
 * (`import ... from 'mailroom'`). test/package/consumer.test.ts type-checks this file in a
 * fresh project with `module: NodeNext`, `strict: true` and `skipLibCheck: false`; it is
 * never run. Only the names a snippet leaves to the reader are declared here.
 */
/* eslint-disable @typescript-eslint/no-unused-vars -- the snippets as the README prints them */
import { createMailroom, loadConfig, activity, fromRequest, startMailroom, inspectionPredicate, parseInspectionFilter, FinalError, batchHandler, type HandlerMap, type MailroomConfig, type ActivityArgs } from 'mailroom';
import { createTestMailroom } from 'mailroom/testing';
import { startObservability, createLogger } from 'mailroom/observability';
import { createDashboardPlugin } from 'mailroom/http';
import { createSkyInspector } from '@statelyai/inspect';
import { assign, setup } from 'xstate';

declare const payments: { charge(input: unknown, options: { idempotencyKey: string; signal: AbortSignal }): Promise<{ id: string }> };
declare const config: MailroomConfig;
declare const handlers: Record<string, HandlerMap>;
declare function expect(value: unknown): { toBe(expected: unknown): void };

export async function workflows(): Promise<void> {
  const orderSaga = setup({
    actors: {
      charge: activity(async ({ input, idempotencyKey, signal }: ActivityArgs<{ amount: number }>) => payments.charge(input, { idempotencyKey, signal }), { maxAttempts: 5, timeoutMs: 10_000 }),
      reserveStock: fromRequest(),                       // a signed envelope to another domain; its reply is the output
    },
  }).createMachine({
    id: 'order',
    context: ({ input }) => ({ ...input, receipt: null }),
    initial: 'reserving',
    states: {
      reserving: { invoke: { src: 'reserveStock', input: ({ context }) => ({ from: 'shop.example', to: 'warehouse.example', subject: 'Reserve@Warehouse', body: { sku: context.sku } }), onDone: 'charging', onError: 'cancelled' } },
      charging: {
        invoke: { src: 'charge', input: ({ context }) => ({ amount: context.amount }), onDone: { target: 'shipped', actions: assign({ receipt: ({ event }) => event.output }) }, onError: 'cancelled' },
        after: { 900_000: 'cancelled' },                 // a durable delay: survives restarts of the process and of nats-server
      },
      shipped: { type: 'final' },
      cancelled: { type: 'final' },
    },
  });

  const mailroom = createMailroom(await loadConfig('mailroom.yaml'));
  mailroom.workflows.register(orderSaga);             // before or after start()
  await mailroom.start();
  await mailroom.workflows.start('order', { sku: 'book', amount: 12 }, { id: 'order-1' });
  await mailroom.workflows.send('order-1', { type: 'customer.note', text: 'gift wrap' });
  const order = await mailroom.workflows.get('order-1'); // { status, state, context, output, history, activities, timers, version }
  await mailroom.workflows.list({ state: 'charging' });
  await mailroom.workflows.cancel('order-1');
  void order;

  // Testing workflows: mailroom/testing
  const t = await createTestMailroom({ workflows: [{ machine: orderSaga }], domains: ['shop.example', 'warehouse.example'] });
  await t.mailroom.workflows.start('order', { sku: 'book', amount: 12 }, { id: 'o-1' });
  await t.advance('15m');                               // the clock moves; due timers and the activities they start run now
  expect((await t.mailroom.workflows.get('o-1'))?.state).toBe('cancelled');
  await t.stop();                                       // the runtime, its nats-server and its temp folder
}

export async function sky(): Promise<void> {
  const sky = createSkyInspector({ apiKey: process.env.STATELY_API_KEY });
  const accepts = inspectionPredicate(parseInspectionFilter('subject=Quote@Shop'));
  await startMailroom(config, { inspect: (event) => { if (accepts(event)) sky.inspect.next?.(event); } });
}

export async function observability(): Promise<void> {
  const observability = await startObservability({ logger: createLogger({ format: 'json' }), inspector: { port: 8081 } });
  const mailroom = await startMailroom(config, { ...observability.mailroomOptions, handlers });
  observability.attach(mailroom);   // JetStream depths for /metrics
  // ... later
  await mailroom.stop();
  await observability.stop();
  void createDashboardPlugin;
}

export async function asALibrary(): Promise<void> {
  const mailroom = await startMailroom(await loadConfig('mailroom.yaml'), {
    handlers: {
      'shop.example': {
        'Hello@Host': ({ from, body }) => ({ text: `hello ${from}` }),   // the reply's Body
        'Quote@Shop': ({ body }) => { throw new FinalError('no such item', 'bad-request'); },
      },
    },
  });
  mailroom.events.on('settled', (status) => console.log(status.state, status.correlation));
  await mailroom.send({ From: 'orders.example', To: 'shop.example', Subject: 'Hello@Host', Body: { text: 'hi' } });
  const outcome = await mailroom.request({ from: 'orders.example', to: 'shop.example', subject: 'Quote@Shop', body: { item: 'tea' }, timeoutMs: 10_000 });
  if (outcome.state === 'replied') console.log(outcome.reply.body);
  await mailroom.stop();
}

export function batches(mailroom: Awaited<ReturnType<typeof startMailroom>>): void {
  mailroom.handle('shop.example', 'Order@Shop', batchHandler(async (orders) =>
    orders.map(({ body }) => (typeof body === 'object' && body.quantity ? { accepted: true } : new FinalError('no quantity', 'bad-quantity'))),
  { maxSize: 50, maxWaitMs: 200 }));
}
