import { setMaxListeners } from 'node:events';
import type { Consumer, ConsumerMessages, JsMsg } from '@nats-io/jetstream';
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

/**
 * How long one pull waits on the server, and how often the server says it is alive while it
 * waits. nats.js's defaults (30 s, 15 s) left a loop deaf for 12–40 s after its consumer's
 * leader died: the pull died with it, and nats.js only noticed after two missed heartbeats,
 * then waited out its own backoff. Short: a lost pull is noticed within two heartbeats.
 */
export const PULL_EXPIRES_MS = 5_000;
export const IDLE_HEARTBEAT_MS = 1_000;

/** A running consume loop. `stop()` stops pulling, waits for the work in flight (at most its grace), and is idempotent. */
export interface ConsumeLoop {
  readonly active: () => number;
  /** How many times a lost pull was replaced by a new one (see {@link PULL_EXPIRES_MS}). */
  readonly renewals: () => number;
  stop(): Promise<void>;
}

export interface ConsumeLoopOptions {
  /**
   * The longest `stop()` waits for the work in flight (default: until it is done). Past it,
   * each message still at work has its signal aborted and is naked at once, so another
   * process gets it now rather than after the ack wait; `stop()` then returns.
   */
  readonly stopGraceMs?: number;
  /** How many at once right now, at most `concurrency` (e.g. {@link startLoadLimit}: by what the CPU can finish). Default: `concurrency`. */
  readonly limit?: () => number;
}

/**
 * Pulls from a durable consumer and runs `handle` on each message, at most `concurrency`
 * at once; messages over the limit wait in the stream. A rejected `handle` naks its message.
 * `handle` gets a signal that is aborted when `stop()` gives up on the message (its grace ran
 * out and the message was naked): whatever `handle` does with the message afterwards is ignored
 * by nats.js (a message is settled once), but any other side effect is its own to stop.
 *
 * The signal is the loop's, shared by all its messages (one `AbortController` per message cost
 * microseconds each): `stop()` gives up on every message still running at once, and aborts it
 * only then. Whoever listens on it must remove its listener when done with the message.
 */
export async function startConsumeLoop(
  consumer: Consumer,
  concurrency: number,
  handle: (msg: JsMsg, signal: AbortSignal) => Promise<void>,
  onError: (error: unknown, context: string) => void,
  options: ConsumeLoopOptions = {},
): Promise<ConsumeLoop> {
  const running = new Set<JsMsg>();
  const stopController = new AbortController();
  const signal = stopController.signal;
  // Each message in flight may wait on it once (a slot, a throttle lease, its handler's call):
  // more than that is a listener left behind, and Node warns of it.
  setMaxListeners(concurrency + 16, signal);
  const limit = options.limit ?? (() => concurrency);
  let wake: (() => void) | undefined;
  let idle: (() => void) | undefined;
  let stopping = false;
  let lastArrival = 0;
  const pull = { max_messages: Math.max(16, Math.min(concurrency, 1024)), expires: PULL_EXPIRES_MS, idle_heartbeat: IDLE_HEARTBEAT_MS };
  let messages = await consumer.consume(pull);
  let renewing = false;
  let renewals = 0;
  /**
   * Two heartbeats missed: the pull is lost (its consumer's leader died, or the node this
   * connection was on). nats.js would check the consumer and wait out a backoff of up to
   * `expires`; a new pull is quicker and lands as soon as a leader is elected (tried again
   * every two heartbeats until one does). Only while the loop waits for a message, so no
   * message that nats.js holds for it is dropped.
   */
  const watch = (current: ConsumerMessages) =>
    void (async () => {
      for await (const s of current.status()) {
        if (s.type !== 'heartbeats_missed' || s.count < 2 || stopping || renewing || current !== messages) continue;
        if (running.size >= Math.min(concurrency, limit())) continue;
        renewing = true;
        await current.close().catch(() => undefined);
      }
    })().catch((error: unknown) => onError(error, 'consume loop status'));
  watch(messages);
  /** Runs `handle` on one message: a rejection naks it; then its place is free. One promise, where `.catch().finally()` made four. */
  const work = async (msg: JsMsg): Promise<void> => {
    try {
      await handle(msg, signal);
    } catch (error) {
      onError(error, `message ${msg.subject} #${msg.seq}`);
      settle(msg, nak(1_000));
    } finally {
      running.delete(msg);
      wake?.();
      if (running.size === 0) idle?.();
    }
  };
  const loop = (async () => {
    for (;;) {
      for await (const msg of messages) {
        lastArrival = Date.now();
        while (running.size >= Math.min(concurrency, limit()) && !stopping) await new Promise<void>((resolve) => (wake = resolve));
        if (stopping) {
          // Pulled but not started: hand it back now, not after the ack wait.
          settle(msg, nak(STOP_NAK_DELAY_MS));
          continue;
        }
        running.add(msg);
        void work(msg);
      }
      if (!renewing || stopping) return;
      messages = await consumer.consume(pull);
      renewals++;
      renewing = false;
      if (stopping) {
        await messages.close();
        return;
      }
      watch(messages);
    }
  })().catch((error: unknown) => onError(error, 'consume loop'));

  /** Resolves when the work in flight is done, or when `graceMs` has passed (undefined: no bound). */
  const settled = (graceMs: number | undefined): Promise<void> => {
    if (running.size === 0) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const timer = graceMs === undefined ? undefined : setTimeout(resolve, graceMs);
      idle = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  };

  let closing: Promise<void> | undefined;
  return {
    active: () => running.size,
    renewals: () => renewals,
    stop: () =>
      (closing ??= (async () => {
        stopping = true;
        wake?.();
        const since = Date.now();
        lastArrival = Math.max(lastArrival, since);
        while (Date.now() - lastArrival < STOP_QUIET_MS && Date.now() - since < STOP_GRACE_MS) await new Promise((resolve) => setTimeout(resolve, STOP_QUIET_MS / 2));
        await messages.close();
        wake?.();
        await settled(options.stopGraceMs);
        // Past the grace. The pull is closed (unsubscribed before this nak goes out), so the
        // message goes to another process at once, not back here. Seen on nats-server 2.9.10:
        // its next delivery may come as attempt 1 again (the server rolls back a delivery
        // it finds without interest), so a stop does not always use up an attempt.
        if (running.size > 0) {
          for (const msg of running) settle(msg, nak());
          running.clear();
          stopController.abort();
        }
        await loop;
      })()),
  };
}
