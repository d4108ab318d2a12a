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
  /** Counts one envelope stored by this ingress. */
  readonly accepted: () => void;
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
  let acceptedTotal = 0;
  let acceptedAtAsk = 0;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let failures = 0;
  const tick = async () => {
    const mark = acceptedTotal;
    try {
      sample = await options.read();
      acceptedAtAsk = mark;
      failures = 0;
    } catch (error) {
      // JetStream not answering: the inbox's own publish will say 503 if it cannot store; keep the last sample.
      if (failures++ === 0) options.onError?.(error, 'sampling the inbox backlog');
    }
    if (!stopped) timer = setTimeout(() => void tick(), options.sampleMs ?? 250).unref();
  };
  void tick();
  const backlog = () => (sample === undefined ? undefined : sample + (acceptedTotal - acceptedAtAsk));
  const max = options.maxPending;
  return {
    backlog,
    full: () => max !== undefined && (sample ?? 0) + (acceptedTotal - acceptedAtAsk) >= max,
    retryAfterSeconds: Math.max(1, Math.ceil(options.retryAfterMs / 1000)),
    accepted: () => void acceptedTotal++,
    stop: () => {
      stopped = true;
      clearTimeout(timer);
    },
  };
}

/** Unprocessed inbox messages: not yet delivered plus delivered and not yet acked, over the shared inbox and its ordered partitions. */
export function inboxBacklogReader(jsm: JetStreamManager, names: Names, partitions: number): () => Promise<number> {
  const consumers = [{ stream: names.streams.inbox, consumer: names.consumers.inbox }, ...Array.from({ length: partitions }, (_, p) => ({ stream: names.ordered.stream, consumer: names.ordered.consumer(p) }))];
  return async () => {
    const infos = await Promise.all(consumers.map(({ stream, consumer }) => jsm.consumers.info(stream, consumer)));
    return infos.reduce((sum, info) => sum + info.num_pending + info.num_ack_pending, 0);
  };
}
