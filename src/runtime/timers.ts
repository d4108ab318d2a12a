import type { Consumer, JetStreamClient, JsMsg } from '@nats-io/jetstream';
import { headers } from '@nats-io/transport-node';
import { DUE_HEADER, messageIds, type Names } from '../transport/names.ts';
import { TransportError } from '../errors.ts';
import { startConsumeLoop, type ConsumeLoop } from './consume-loop.ts';
import { ACK, extend, nak, settle, TERM } from './disposition.ts';

/** The longest single nak delay; a later timer is simply naked again. */
const MAX_WAIT_MS = 24 * 60 * 60 * 1000;

/**
 * What fires when a timer of a kind comes due. A rejection retries the timer a second later;
 * `{ retryAt }` puts it back quietly, to fire again at that time (epoch ms).
 */
export type TimerHandler = (payload: unknown, timer: { readonly id: string; readonly due: number }) => Promise<void | { readonly retryAt: number }>;

/** How often a timer handler that runs long tells JetStream it is still at work (the timer consumer's ack wait is 5 s). */
const KEEPALIVE_MS = 2_000;

/**
 * Durable timers in JetStream, for nats-server 2.9 and later: a timer is a message in the
 * `MAILROOM_TIMERS` work queue that the worker naks with a delay until it is due, then fires
 * and acks. It survives restarts of the runtime and of nats-server; any process may fire it.
 * Nothing lives only in a `setTimeout`. `id` makes scheduling idempotent (`Nats-Msg-Id`).
 */
export class Timers {
  /** `subjectOf` puts a kind on its queue: `names.timerSubject` (default) or `names.taskSubject`. */
  constructor(
    private readonly js: JetStreamClient,
    names: Names,
    private readonly subjectOf: (kind: string) => string = names.timerSubject,
  ) {}

  /** Schedules a timer. A second call with the same kind and id inside the dedupe window is a no-op. */
  async schedule(kind: string, id: string, due: number, payload: unknown): Promise<void> {
    const h = headers();
    h.set(DUE_HEADER, String(Math.round(due)));
    try {
      await this.js.publish(this.subjectOf(kind), JSON.stringify({ kind, id, payload }), { msgID: messageIds.timer(kind, id), headers: h });
    } catch (cause) {
      throw new TransportError(`could not schedule the ${kind} timer ${id}`, { cause });
    }
  }
}

/** Runs the timers of this runtime's kinds as they come due. */
export function startTimerWorker(options: {
  consumer: Consumer;
  handlers: Readonly<Record<string, TimerHandler>>;
  now?: () => number;
  /** How many handlers run at once (default 256). */
  concurrency?: number;
  /**
   * The longest a timer waits before its due time is checked again (default one day). A test
   * clock that jumps forward needs a short one: the wait is real time, the due time is the clock's.
   */
  maxWaitMs?: number;
  /** The longest `stop()` waits for the handlers running (default: until they are done); then their timers are naked. */
  stopGraceMs?: number;
  onError: (error: unknown, context: string) => void;
}): Promise<ConsumeLoop> {
  const now = options.now ?? Date.now;
  const maxWait = Math.min(options.maxWaitMs ?? MAX_WAIT_MS, MAX_WAIT_MS);
  const handle = async (msg: JsMsg): Promise<void> => {
    const due = Number(msg.headers?.get(DUE_HEADER) ?? 0);
    const wait = due - now();
    if (wait > 0) {
      settle(msg, nak(Math.min(wait, maxWait)));
      return;
    }
    const timer = msg.json<{ kind: string; id: string; payload: unknown }>();
    const handler = options.handlers[timer.kind];
    if (!handler) {
      options.onError(new Error(`no handler for timers of kind ${timer.kind}; it is dropped`), 'timers');
      settle(msg, TERM);
      return;
    }
    const keepAlive = setInterval(() => extend(msg), KEEPALIVE_MS);
    keepAlive.unref();
    let result: void | { readonly retryAt: number };
    try {
      result = await handler(timer.payload, { id: timer.id, due });
    } finally {
      clearInterval(keepAlive);
    }
    if (result && typeof result.retryAt === 'number') settle(msg, nak(Math.min(Math.max(result.retryAt - now(), 1), maxWait)));
    else settle(msg, ACK);
  };
  const loopOptions = options.stopGraceMs !== undefined ? { stopGraceMs: options.stopGraceMs } : {};
  return startConsumeLoop(options.consumer, options.concurrency ?? 256, handle, (error, context) => options.onError(error, `timers: ${context}`), loopOptions);
}
