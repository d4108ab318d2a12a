/**
 * Stand-ins for the outside world the saga talks to: a payment provider and a carrier. In a
 * real shop these are HTTP APIs; here they are in memory, with a little latency so the steps
 * can be watched in the dashboard and the inspector.
 *
 * The card decides what the payment provider does:
 * - `4242 4242 4242 4242` (any other number too) is charged;
 * - `4000 0000 0000 0002` is declined: the charge fails at once, for good;
 * - `4000 0000 0000 0259` hangs: the provider never answers (until the saga gives up on it).
 */
import { FinalError } from '../../src/index.ts';

export const CARDS = {
  ok: '4242 4242 4242 4242',
  declined: '4000 0000 0000 0002',
  hangs: '4000 0000 0000 0259',
} as const;

const LATENCY_MS = 150;

/** Resolves after `ms`, or rejects when `signal` aborts (the saga stopped waiting). */
function pause(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason as Error);
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        reject(signal.reason as Error);
      },
      { once: true },
    );
  });
}

/** Never resolves; rejects when `signal` aborts. */
function hang(signal: AbortSignal): Promise<never> {
  return new Promise((_resolve, reject) => {
    if (signal.aborted) return reject(signal.reason as Error);
    signal.addEventListener('abort', () => reject(signal.reason as Error), { once: true });
  });
}

export interface Charge {
  readonly chargeId: string;
  readonly amount: number;
}

/** What the provider did, by idempotency key: a retried charge with the same key is not charged twice. */
const charges = new Map<string, Charge>();
const refunds = new Map<string, { readonly refundId: string; readonly chargeId: string | null }>();

export const paymentProvider = {
  async charge(request: { card: string; amount: number; idempotencyKey: string; signal: AbortSignal }): Promise<Charge> {
    const earlier = charges.get(request.idempotencyKey);
    if (earlier) return earlier;
    if (request.card === CARDS.hangs) await hang(request.signal);
    await pause(LATENCY_MS, request.signal);
    // A declined card will not be charged by retrying: FinalError tells the engine not to retry.
    if (request.card === CARDS.declined) throw new FinalError('card declined (insufficient funds)', 'card-declined');
    const charge = { chargeId: `ch_${charges.size + 1}`, amount: request.amount };
    charges.set(request.idempotencyKey, charge);
    return charge;
  },
  /** Refunds the order's charge, or voids it if the charge is still pending at the provider. */
  async refund(request: { orderId: string; chargeId: string | null; idempotencyKey: string }): Promise<{ refundId: string; chargeId: string | null }> {
    const earlier = refunds.get(request.idempotencyKey);
    if (earlier) return earlier;
    await pause(LATENCY_MS);
    const refund = { refundId: `re_${refunds.size + 1}`, chargeId: request.chargeId };
    refunds.set(request.idempotencyKey, refund);
    return refund;
  },
};

let parcels = 0;
export const carrier = {
  async ship(request: { orderId: string; sku: string; qty: number; signal: AbortSignal }): Promise<{ trackingNumber: string }> {
    await pause(LATENCY_MS, request.signal);
    parcels += 1;
    return { trackingNumber: `TRK-${String(parcels).padStart(5, '0')}` };
  },
};
