import type { JetStreamManager } from '@nats-io/jetstream';
import type { Names } from '../transport/names.ts';

/**
 * `inbox.maxPending`: the inbox refuses new envelopes (503 with `Retry-After`) while the
 * backlog (inbox messages not yet processed, in JetStream) is at the limit. Checked on every
 * `POST /inbox` without a round trip: the backlog is sampled from the consumers every
 * `sampleMs`, and what this ingress accepted since a sample was asked for is added to it, so
 * the estimate never lags behind this process's own accepts (it may count a few twice: it errs
 * towards refusing).
 */
export interface BacklogGate {
  /** The estimate: the last sample plus what was accepted here since it was asked for. */
  readonly backlog: () => number | undefined;
  /** True when a new envelope must be refused. */
  readonly full: () => boolean;
  /** Seconds for `Retry-After`. */
  readonly retryAfterSeconds: number;
  /** An accept begins (before its decode and publish). */
  readonly begin: () => void;
  /** It ended: `stored` when JetStream stored a new envelope (not a duplicate). */
  readonly end: (stored: boolean) => void;
  stop(): void;
}

export interface BacklogGateOptions {
  /** Unprocessed inbox messages now (e.g. consumer `num_pending + num_ack_pending`, summed over the inbox consumers). */
  readonly read: () => Promise<number>;
  /** Refuse at or above this backlog; undefined: never refuse (the backlog is still sampled, for `/metrics`). */
  readonly maxPending?: number;
  readonly retryAfterMs: number;
  /** Default 250 ms. */
  readonly sampleMs?: number;
  readonly onError?: (error: unknown, context: string) => void;
}

export function startBacklogGate(options: BacklogGateOptions): BacklogGate {
  let sample: number | undefined;
  /** Accepts begun (decode + publish) and ended, so a sample can tell which of them it saw. */
  let begun = 0;
  let inFlight = 0;
  let acceptedTotal = 0;
  let acceptedAtAsk = 0;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let failures = 0;
  let unclean = 0;
  const schedule = (ms: number) => {
    if (!stopped) timer = setTimeout(() => void tick(), ms).unref();
  };
  const tick = async () => {
    // A sample is exact when no accept was under way while it was taken: each one before it is
    // in it, each one after it is counted on top. Under constant load that rarely happens; then
    // the accepts under way are counted on top too (some twice: the estimate errs high).
    const quiet = inFlight === 0;
    if (!quiet && unclean < MAX_UNCLEAN) {
      unclean++;
      return schedule(RETRY_MS);
    }
    const mark = acceptedTotal;
    const begunAtAsk = begun;
    const inFlightAtAsk = inFlight;
    try {
      const value = await options.read();
      if (begun !== begunAtAsk && unclean < MAX_UNCLEAN) {
        unclean++;
        return schedule(RETRY_MS);
      }
      sample = value;
      // The accepts under way at the ask and not yet counted: counted on top when they end.
      acceptedAtAsk = mark - inFlightAtAsk;
      unclean = 0;
      failures = 0;
    } catch (error) {
      // JetStream not answering: the inbox's own publish will say 503 if it cannot store; keep the last sample.
      if (failures++ === 0) options.onError?.(error, 'sampling the inbox backlog');
    }
    schedule(options.sampleMs ?? 250);
  };
  void tick();
  const estimate = () => (sample ?? 0) + Math.max(0, acceptedTotal - acceptedAtAsk);
  const max = options.maxPending;
  return {
    backlog: () => (sample === undefined ? undefined : estimate()),
    full: () => max !== undefined && estimate() >= max,
    retryAfterSeconds: Math.max(1, Math.ceil(options.retryAfterMs / 1000)),
    begin: () => {
      begun++;
      inFlight++;
    },
    end: (stored) => {
      inFlight--;
      if (stored) acceptedTotal++;
    },
    stop: () => {
      stopped = true;
      clearTimeout(timer);
    },
  };
}

/** Tries to find a moment without an accept under way before a sample is taken anyway. */
const MAX_UNCLEAN = 20;
const RETRY_MS = 5;

/**
 * Unprocessed inbox messages: not yet delivered plus delivered and not yet acked, over the inbox
 * and its ordered partitions. The inbox is a work queue (a message leaves it when acked), so its
 * message count is that, whichever consumers (shared, or one per domain) pull from it.
 */
export function inboxBacklogReader(jsm: JetStreamManager, names: Names, partitions: number): () => Promise<number> {
  const consumers = Array.from({ length: partitions }, (_, p) => ({ stream: names.ordered.stream, consumer: names.ordered.consumer(p) }));
  return async () => {
    const [inbox, ...infos] = await Promise.all([jsm.streams.info(names.streams.inbox), ...consumers.map(({ stream, consumer }) => jsm.consumers.info(stream, consumer))]);
    return infos.reduce((sum, info) => sum + info.num_pending + info.num_ack_pending, inbox!.state.messages);
  };
}
