import type { Consumer, JsMsg } from '@nats-io/jetstream';
import { nak, settle } from './disposition.ts';

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
  const messages = await consumer.consume({ max_messages: Math.max(16, Math.min(concurrency, 1024)) });
  const loop = (async () => {
    for await (const msg of messages) {
      while (active >= concurrency && !stopping) await new Promise<void>((resolve) => (wake = resolve));
      if (stopping) {
        // Pulled but not started: hand it back now, not after the ack wait.
        settle(msg, nak());
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
        await messages.close();
        wake?.();
        if (active > 0) await new Promise<void>((resolve) => (idle = resolve));
        await loop;
      })()),
  };
}
