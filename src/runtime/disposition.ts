import type { JsMsg } from '@nats-io/jetstream';
import { jittered } from '../../machines/retry-policy.ts';

// Equal jitter is the retry policy's (`machines/retry-policy.ts`); re-exported for the callers of this module.
export { jittered };

/**
 * What happens to a JetStream message: acked (done), naked (delivered again after
 * `delayMs`), or termed (never again). The envelope machine's output is one of the first two.
 */
export type Disposition = { readonly kind: 'ack' } | { readonly kind: 'nak'; readonly delayMs: number } | { readonly kind: 'term' };

export const ACK: Disposition = { kind: 'ack' };
export const nak = (delayMs = 0): Disposition => ({ kind: 'nak', delayMs });
export const TERM: Disposition = { kind: 'term' };

/**
 * The only place that acks, naks or terms a JetStream message, switching exhaustively on
 * the disposition. Delays are used as given: a caller that wants jitter applies
 * {@link jittered} first (a retry does; a timer must not).
 */
export function settle(msg: JsMsg, disposition: Disposition): void {
  switch (disposition.kind) {
    case 'ack':
      msg.ack();
      return;
    case 'nak':
      if (disposition.delayMs > 0) msg.nak(disposition.delayMs);
      else msg.nak();
      return;
    case 'term':
      msg.term();
      return;
    default: {
      const never: never = disposition;
      throw new Error(`unknown disposition ${JSON.stringify(never)}`);
    }
  }
}

/** With jitter on its delay, for retries. */
export function withJitter(disposition: Disposition, random: () => number = Math.random): Disposition {
  return disposition.kind === 'nak' ? nak(jittered(disposition.delayMs, random)) : disposition;
}

/** Tells JetStream the message is still being worked on, so its ack wait starts again. */
export function extend(msg: JsMsg): void {
  msg.working();
}
