import { runWithTrace } from './trace-context.ts';
import type { Consumer, JsMsg } from '@nats-io/jetstream';
import type { ParseLimits } from '../envelope/index.ts';
import { startConsumeLoop } from './consume-loop.ts';
import { extend } from './disposition.ts';
import { flightKey, openFlight, type Flight, type Flights } from './envelope-flight.ts';
import { startLoadLimit } from './load-limit.ts';
import type { Throttle } from './throttle.ts';
import { senderKeyOf } from './public-envelopes.ts';

/** What the loop needs: the consumers, how many at once, the ack wait, the limits. */
export interface EnvelopeLoopDeps {
  /**
   * The inbox consumers: the shared one, or one per hosted domain (each filtered on its
   * domain's subjects). Each gets its own pull loop; together they run at most `concurrency`.
   */
  readonly consumers: readonly Consumer[];
  /** The ordered partitions' consumers: each runs one envelope at a time. */
  readonly orderedConsumers?: readonly Consumer[];
  readonly limits: ParseLimits;
  readonly delivery: {
    readonly concurrency: number;
    readonly ackWaitMs: number;
    /** The longest `stop()` waits for the envelopes in flight (default: until they are done); then their handlers are aborted and their messages naked. */
    readonly stopGraceMs?: number;
  };
  /** Per-subject and per-sender limits; envelopes over them wait here, unacked and kept alive. */
  readonly throttle?: Throttle;
  readonly onError?: (error: unknown, context: string) => void;
}

/** A running envelope loop. `stop()` stops pulling and waits for the flights (at most the stop grace); idempotent. */
export interface EnvelopeLoop {
  readonly inFlight: () => number;
  stop(): Promise<void>;
}

/**
 * Pulls the inbox (and the ordered partitions) and runs each message as one flight: decoded
 * once, past the throttle, then `runFlight` (the envelope actor) until it is settled. A
 * redelivery of a message already in flight here starts nothing; the flight takes its newer
 * delivery. One timer keeps every flight's message alive while it is worked on.
 */
export async function startEnvelopeLoop(deps: EnvelopeLoopDeps, flights: Flights, runFlight: (key: string, flight: Flight) => Promise<void>): Promise<EnvelopeLoop> {
  // Several inbox loops (one per hosted domain) share the process's `concurrency`: a message one
  // of them pulled past it waits in its flight for a slot (kept alive, as for the throttle).
  const gate = deps.consumers.length > 1 ? new SlotGate(deps.delivery.concurrency) : undefined;
  // Its limits are the configuration's: whether there are any is known once, not per envelope.
  const throttle = deps.throttle && !deps.throttle.inactive ? deps.throttle : undefined;
  const run = (slots: SlotGate | undefined) => async (msg: JsMsg, stop: AbortSignal): Promise<void> => {
    const key = flightKey(msg);
    const running = flights.get(key);
    if (running) {
      // A redelivery of a message whose actor runs here: no second actor; it settles with this delivery.
      if (msg.info.deliveryCount >= running.msg.info.deliveryCount) running.msg = msg;
      return;
    }
    const flight = openFlight(msg, stop, deps.limits);
    flights.set(key, flight);
    let release: (() => void) | undefined;
    let freeSlot: (() => void) | undefined;
    try {
      if (slots) freeSlot = await slots.acquire(stop);
      if (stop.aborted) return;
      const decoded = flight.decoded;
      if (throttle && decoded.ok) release = await throttle.acquire(decoded.value.envelope.Header.Subject, senderKeyOf(decoded.value.envelope), stop);
      // Given up on while it waited (the loop stopped and naked it): another process has it now.
      if (stop.aborted) return;
      // Every log line written while it runs carries its trace id (when a traceparent came with it).
      await (flight.trace ? runWithTrace(flight.trace, () => runFlight(key, flight)) : runFlight(key, flight));
    } finally {
      // The actor deleted it when done; a newer flight of the same message may be there by now.
      if (flights.get(key) === flight) flights.delete(key);
      release?.();
      freeSlot?.();
    }
  };

  // Past the stop grace, the loops nak what is still running and abort `stop`: a handler's signal aborts with it.
  const loopOptions = deps.delivery.stopGraceMs !== undefined ? { stopGraceMs: deps.delivery.stopGraceMs } : {};
  // The shared inbox takes what the CPU can finish; the rest waits in JetStream (load-limit.ts).
  const load = startLoadLimit(deps.delivery.concurrency);
  const inboxLoops = await Promise.all(
    deps.consumers.map((consumer, d) => startConsumeLoop(consumer, deps.delivery.concurrency, run(gate), (error, context) => deps.onError?.(error, `inbox${deps.consumers.length > 1 ? ` ${d}` : ''}: ${context}`), { ...loopOptions, limit: load.current })),
  );
  const orderedLoops = await Promise.all(
    (deps.orderedConsumers ?? []).map((consumer, p) => startConsumeLoop(consumer, 1, run(undefined), (error, context) => deps.onError?.(error, `ordered ${p}: ${context}`), loopOptions)),
  );
  // One timer for all messages in flight (running, or waiting for the throttle): a message worked
  // on for a third of the ack wait is marked in progress, so a slow handler is not redelivered to
  // another actor meanwhile.
  const keepAlive = setInterval(() => {
    const due = Date.now() - deps.delivery.ackWaitMs / 3;
    for (const flight of flights.values()) if (flight.startedAt < due) extend(flight.msg);
  }, Math.max(100, Math.floor(deps.delivery.ackWaitMs / 3)));
  keepAlive.unref();
  let stopping: Promise<void> | undefined;
  return {
    inFlight: () => [...inboxLoops, ...orderedLoops].reduce((n, l) => n + l.active(), 0),
    stop: () =>
      (stopping ??= (async () => {
        await Promise.all([...inboxLoops, ...orderedLoops].map((l) => l.stop()));
        load.stop();
        clearInterval(keepAlive);
      })()),
  };
}

/** At most `size` holders at once; the rest wait in arrival order. A waiter whose signal aborts leaves the queue. */
class SlotGate {
  #held = 0;
  readonly #waiting: (() => void)[] = [];

  constructor(private readonly size: number) {}

  async acquire(signal: AbortSignal): Promise<() => void> {
    while (this.#held >= this.size && !signal.aborted) {
      await new Promise<void>((resolve) => {
        const wake = (): void => {
          signal.removeEventListener('abort', wake);
          const at = this.#waiting.indexOf(wake);
          if (at >= 0) this.#waiting.splice(at, 1);
          resolve();
        };
        this.#waiting.push(wake);
        signal.addEventListener('abort', wake);
      });
    }
    if (signal.aborted) return () => undefined;
    this.#held++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#held--;
      this.#waiting[0]?.();
    };
  }
}
