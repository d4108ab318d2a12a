import type { JetStreamClient } from '@nats-io/jetstream';
import type { Names } from '../transport/names.ts';
import { ClusterThrottle } from './cluster-throttle.ts';
import { TokenBuckets } from './token-buckets.ts';

/** Where a limit is counted: in this process, or across every process on the prefix ({@link ClusterThrottle}). */
export type ThrottleScope = 'process' | 'cluster';

/**
 * Throttling: at most `maxInFlight` envelopes of a subject at once, and at most `rate` a
 * second from one sender (a token bucket with `burst`), each counted in this process or, with
 * `scope: 'cluster'`, across the cluster. An envelope over a limit waits for its turn, unacked
 * and kept alive, so it is never dropped and never redelivered elsewhere meanwhile; waiting
 * holds one of the process's `concurrency` slots, so the limits should stay below it.
 */
export interface ThrottleOptions {
  readonly subjects: Readonly<Record<string, { readonly maxInFlight?: number; readonly scope?: ThrottleScope }>>;
  readonly senderRate?: { readonly rate: number; readonly burst: number; readonly scope?: ThrottleScope };
  readonly now?: () => number;
  /** Holds the limits whose scope is `cluster`; required when any is. */
  readonly cluster?: ClusterThrottle;
}

export class Throttle {
  readonly #inFlight = new Map<string, number>();
  readonly #waiting = new Map<string, (() => void)[]>();
  readonly #buckets: TokenBuckets | undefined;

  constructor(private readonly options: ThrottleOptions) {
    const rate = options.senderRate;
    this.#buckets = rate ? new TokenBuckets({ rate: rate.rate, burst: rate.burst, ...(options.now ? { now: options.now } : {}) }) : undefined;
    const clustered = rate?.scope === 'cluster' || Object.values(options.subjects).some((s) => s.scope === 'cluster' && s.maxInFlight !== undefined);
    if (clustered && !options.cluster) throw new TypeError('a throttle with scope cluster needs a ClusterThrottle');
  }

  /** True when nothing is configured: the runner then skips the throttle entirely. */
  get inactive(): boolean {
    return !Object.values(this.options.subjects).some((s) => s.maxInFlight !== undefined) && !this.options.senderRate;
  }

  /** Waits for a sender token and a subject slot (or until `signal` aborts); returns the release of the slot. */
  async acquire(subject: string, sender: string, signal?: AbortSignal): Promise<() => void> {
    await this.#token(sender, signal);
    const { maxInFlight: limit, scope } = this.options.subjects[subject] ?? {};
    if (limit === undefined || signal?.aborted) return () => undefined;
    if (scope === 'cluster') return this.options.cluster!.acquireSlot(subject, limit, signal);
    while ((this.#inFlight.get(subject) ?? 0) >= limit) {
      await new Promise<void>((resolve) => {
        const queue = this.#waiting.get(subject) ?? [];
        queue.push(resolve);
        this.#waiting.set(subject, queue);
      });
    }
    this.#inFlight.set(subject, (this.#inFlight.get(subject) ?? 0) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#inFlight.set(subject, (this.#inFlight.get(subject) ?? 1) - 1);
      this.#waiting.get(subject)?.shift()?.();
    };
  }

  async #token(sender: string, signal?: AbortSignal): Promise<void> {
    const rate = this.options.senderRate;
    if (!rate) return;
    const take = rate.scope === 'cluster' ? () => this.options.cluster!.takeToken(sender, rate.rate, rate.burst) : async () => this.#buckets!.take(sender);
    for (let wait = await take(); wait > 0 && !signal?.aborted; wait = await take()) {
      await new Promise((resolve) => setTimeout(resolve, wait));
    }
  }
}

/** What {@link createThrottle} needs beyond the limits: where a cluster-scoped limit is held. */
export interface CreateThrottleOptions extends Omit<ThrottleOptions, 'cluster'> {
  readonly js: JetStreamClient;
  readonly names: Pick<Names, 'throttleBucket' | 'throttleInFlightKey' | 'throttleRateKey'>;
  /** How long a cluster slot of a process that stopped renewing it (it died) stays taken. */
  readonly leaseMs: number;
  /** Replicas of the throttle bucket when it is created (`nats.replicas`). */
  readonly replicas?: number;
  readonly onError?: (error: unknown, context: string) => void;
}

/** A {@link Throttle}; opens (or creates) the throttle bucket only when a limit's scope is `cluster`. */
export async function createThrottle(options: CreateThrottleOptions): Promise<Throttle> {
  const { js, names, leaseMs, replicas, onError, ...limits } = options;
  const clustered = limits.senderRate?.scope === 'cluster' || Object.values(limits.subjects).some((s) => s.scope === 'cluster' && s.maxInFlight !== undefined);
  if (!clustered) return new Throttle(limits);
  const cluster = await ClusterThrottle.open(js, names.throttleBucket, { names, leaseMs, ...(replicas ? { replicas } : {}), ...(limits.now ? { now: limits.now } : {}), ...(onError ? { onError } : {}) });
  return new Throttle({ ...limits, cluster });
}
