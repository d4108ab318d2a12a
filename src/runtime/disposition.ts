import type { JsMsg } from '@nats-io/jetstream';
import type { EnvelopeDisposition } from '../../machines/envelope.machine.ts';

/**
 * The only place that acks or naks a JetStream message. A nak delay gets equal jitter
 * (half fixed, half random) so that a burst of failures does not come back as a burst.
 */
export function settle(msg: JsMsg, disposition: EnvelopeDisposition, random: () => number = Math.random): void {
  switch (disposition.kind) {
    case 'ack':
      msg.ack();
      return;
    case 'nak':
      msg.nak(jittered(disposition.delayMs, random));
      return;
    default: {
      const never: never = disposition;
      throw new Error(`unknown disposition ${JSON.stringify(never)}`);
    }
  }
}

/** Equal jitter: a delay in [delay/2, delay]. */
export function jittered(delayMs: number, random: () => number = Math.random): number {
  if (delayMs <= 0) return 0;
  return Math.round(delayMs / 2 + random() * (delayMs / 2));
}

/** Tells JetStream the message is still being worked on, so its ack wait starts again. */
export function extend(msg: JsMsg): void {
  msg.working();
}
