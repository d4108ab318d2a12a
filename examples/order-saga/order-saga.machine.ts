/**
 * The order saga: a durable workflow that places an order across three parties.
 *
 *   reserving ──▶ charging ──▶ shipping ──▶ shipped
 *      │            │  │          │
 *      │   declined │  │ no answer in time (after paymentTimeout)
 *      ▼            │  ▼          ▼
 *   rejected        │ refunding ◀─┘ (the carrier failed)
 *                   ▼  │
 *          releasingStock ◀┘ ──▶ cancelled
 *
 * - Stock is reserved by asking the warehouse: a signed envelope `Reserve@Warehouse` from
 *   shop.example to warehouse.example ({@link fromRequest}); the warehouse's reply carries the
 *   reservation. A refusal (out of stock) is a discard, the invoke's `onError`.
 * - The payment is an {@link activity} with a retry policy and an idempotency key. The
 *   provider gets `paymentTimeout` to answer (an `after` delay: a durable timer in JetStream,
 *   which survives restarts); past that the saga stops waiting, which cancels the charge.
 * - Compensation runs backwards: what was done is undone. A declined card charged nothing, so
 *   only the stock is released; a payment that timed out may still go through at the provider,
 *   so it is refunded (voided) first, then the stock released; the same when shipping fails.
 *
 * The machine is plain XState v5: test it with `createActor` too, with the actors provided.
 */
import { assign, setup } from 'xstate';
import { activity, fromRequest } from '../../src/index.ts';
import { carrier, paymentProvider } from './services.ts';

export const SHOP = 'shop.example';
export const WAREHOUSE = 'warehouse.example';
/** How long the payment provider gets by default. */
export const DEFAULT_PAYMENT_TIMEOUT_MS = 3_000;

export interface OrderInput {
  readonly orderId: string;
  readonly sku: string;
  readonly qty: number;
  /** In cents. */
  readonly amount: number;
  readonly card: string;
  readonly paymentTimeoutMs?: number;
}

export interface OrderContext {
  readonly orderId: string;
  readonly sku: string;
  readonly qty: number;
  readonly amount: number;
  readonly card: string;
  readonly paymentTimeoutMs: number;
  readonly reservationId: string | null;
  readonly chargeId: string | null;
  readonly trackingNumber: string | null;
  readonly refundId: string | null;
  /** The step that failed and why: set on every path that compensates. */
  readonly failure: { readonly step: 'stock' | 'payment' | 'shipping'; readonly reason: string } | null;
}

/** The reason in an actor's error event (`{ name, message }` from the engine). */
const reasonOf = (error: unknown): string =>
  typeof error === 'object' && error !== null && 'message' in error ? String((error as { message: unknown }).message) : String(error);

/** The body of a warehouse reply (`event.output` of a request is the conversation's outcome). */
const replyBody = (output: { reply: { body: unknown } }) => output.reply.body as Record<string, unknown>;

export const orderSaga = setup({
  types: {
    input: {} as OrderInput,
    context: {} as OrderContext,
    output: {} as Pick<OrderContext, 'orderId' | 'reservationId' | 'chargeId' | 'trackingNumber' | 'refundId' | 'failure'>,
  },
  actors: {
    /** A conversation with the warehouse domain: signed envelope out, its reply back. */
    reserveStock: fromRequest(),
    releaseStock: fromRequest(),
    charge: activity<{ chargeId: string }, { card: string; amount: number }>(
      ({ input, idempotencyKey, signal }) => paymentProvider.charge({ card: input.card, amount: input.amount, idempotencyKey, signal }),
      // A network error is retried; a declined card throws FinalError and is not.
      { maxAttempts: 3, initialDelayMs: 200 },
    ),
    refund: activity<{ refundId: string }, { orderId: string; chargeId: string | null }>(
      ({ input, idempotencyKey }) => paymentProvider.refund({ orderId: input.orderId, chargeId: input.chargeId, idempotencyKey }),
      { maxAttempts: 10, initialDelayMs: 500, maxDelayMs: 30_000 },
    ),
    ship: activity<{ trackingNumber: string }, { orderId: string; sku: string; qty: number }>(
      ({ input, signal }) => carrier.ship({ ...input, signal }),
      { maxAttempts: 5, initialDelayMs: 500 },
    ),
  },
  delays: {
    paymentTimeout: ({ context }) => context.paymentTimeoutMs,
  },
}).createMachine({
  id: 'order',
  context: ({ input }) => ({
    orderId: input.orderId,
    sku: input.sku,
    qty: input.qty,
    amount: input.amount,
    card: input.card,
    paymentTimeoutMs: input.paymentTimeoutMs ?? DEFAULT_PAYMENT_TIMEOUT_MS,
    reservationId: null,
    chargeId: null,
    trackingNumber: null,
    refundId: null,
    failure: null,
  }),
  initial: 'reserving',
  states: {
    reserving: {
      invoke: {
        id: 'reserveStock',
        src: 'reserveStock',
        input: ({ context }) => ({
          from: SHOP,
          to: WAREHOUSE,
          subject: 'Reserve@Warehouse',
          body: { orderId: context.orderId, sku: context.sku, qty: context.qty },
          timeoutMs: 30_000,
        }),
        onDone: { target: 'charging', actions: assign({ reservationId: ({ event }) => String(replyBody(event.output).reservationId) }) },
        onError: { target: 'rejected', actions: assign({ failure: ({ event }) => ({ step: 'stock' as const, reason: reasonOf(event.error) }) }) },
      },
    },
    charging: {
      invoke: {
        id: 'charge',
        src: 'charge',
        input: ({ context }) => ({ card: context.card, amount: context.amount }),
        onDone: { target: 'shipping', actions: assign({ chargeId: ({ event }) => event.output.chargeId }) },
        // Nothing was charged: only the stock is given back.
        onError: { target: 'releasingStock', actions: assign({ failure: ({ event }) => ({ step: 'payment' as const, reason: reasonOf(event.error) }) }) },
      },
      after: {
        // Leaving the state stops the charge (its abort signal fires); it may have reached the provider, so void it.
        paymentTimeout: {
          target: 'refunding',
          actions: assign({ failure: ({ context }) => ({ step: 'payment' as const, reason: `the payment provider did not answer within ${context.paymentTimeoutMs} ms` }) }),
        },
      },
    },
    shipping: {
      invoke: {
        id: 'ship',
        src: 'ship',
        input: ({ context }) => ({ orderId: context.orderId, sku: context.sku, qty: context.qty }),
        onDone: { target: 'shipped', actions: assign({ trackingNumber: ({ event }) => event.output.trackingNumber }) },
        onError: { target: 'refunding', actions: assign({ failure: ({ event }) => ({ step: 'shipping' as const, reason: reasonOf(event.error) }) }) },
      },
    },
    // Compensation. No onError: a refund or release that fails after all its retries fails the workflow, for a human to look at.
    refunding: {
      invoke: {
        id: 'refund',
        src: 'refund',
        input: ({ context }) => ({ orderId: context.orderId, chargeId: context.chargeId }),
        onDone: { target: 'releasingStock', actions: assign({ refundId: ({ event }) => event.output.refundId }) },
      },
    },
    releasingStock: {
      invoke: {
        id: 'releaseStock',
        src: 'releaseStock',
        input: ({ context }) => ({
          from: SHOP,
          to: WAREHOUSE,
          subject: 'Release@Warehouse',
          body: { orderId: context.orderId, reservationId: context.reservationId ?? '' },
          timeoutMs: 30_000,
        }),
        onDone: 'cancelled',
      },
    },
    shipped: { type: 'final' },
    cancelled: { type: 'final' },
    rejected: { type: 'final' },
  },
  output: ({ context }) => ({
    orderId: context.orderId,
    reservationId: context.reservationId,
    chargeId: context.chargeId,
    trackingNumber: context.trackingNumber,
    refundId: context.refundId,
    failure: context.failure,
  }),
});
