import type { Consumer, JsMsg } from '@nats-io/jetstream';
import { nak, settle } from './disposition.ts';

/**
 * On stop, how long the loop keeps listening after the last message came (and the most it
 * waits in all): a message the server had already sent to this pull when the loop stopped
 * arrives a moment later. Closing at once drops it (nats.js ignores what comes after close),
 * and it would come back only after the consumer's ack wait; heard, it is handed back now.
 */
const STOP_QUIET_MS = 30;
const STOP_GRACE_MS = 300;
/** A message handed back on stop waits this long, so it goes to another process, not back to this stopping one. */
const STOP_NAK_DELAY_MS = STOP_GRACE_MS;

/** A running consume loop. `stop()` stops pulling, waits for the work in flight, and is idempotent. */
export interface ConsumeLoop {
  readonly active: () => number;
  stop(): Promise<void>;
}

/**
 * Pulls from a durable consumer and runs `handle` on each message, at most `concurrency`
 * at once; messages over the limit wait in the stream. A rejected `handle` naks its message.
 */
export async function startConsumeLoop(
  consumer: Consumer,
  concurrency: number,
  handle: (msg: JsMsg) => Promise<void>,
  onError: (error: unknown, context: string) => void,
): Promise<ConsumeLoop> {
  let active = 0;
  let wake: (() => void) | undefined;
  let idle: (() => void) | undefined;
  let stopping = false;
  let lastArrival = 0;
  const messages = await consumer.consume({ max_messages: Math.max(16, Math.min(concurrency, 1024)) });
  const loop = (async () => {
    for await (const msg of messages) {
      lastArrival = Date.now();
      while (active >= concurrency && !stopping) await new Promise<void>((resolve) => (wake = resolve));
      if (stopping) {
        // Pulled but not started: hand it back now, not after the ack wait.
        settle(msg, nak(STOP_NAK_DELAY_MS));
        continue;
      }
      active++;
      handle(msg)
        .catch((error: unknown) => {
          onError(error, `message ${msg.subject} #${msg.seq}`);
          settle(msg, nak(1_000));
        })
        .finally(() => {
          active--;
          wake?.();
          if (active === 0) idle?.();
        });
    }
  })().catch((error: unknown) => onError(error, 'consume loop'));

  let closing: Promise<void> | undefined;
  return {
    active: () => active,
    stop: () =>
      (closing ??= (async () => {
        stopping = true;
        wake?.();
        const since = Date.now();
        lastArrival = Math.max(lastArrival, since);
        while (Date.now() - lastArrival < STOP_QUIET_MS && Date.now() - since < STOP_GRACE_MS) await new Promise((resolve) => setTimeout(resolve, STOP_QUIET_MS / 2));
        await messages.close();
        wake?.();
        if (active > 0) await new Promise<void>((resolve) => (idle = resolve));
        await loop;
      })()),
  };
}
