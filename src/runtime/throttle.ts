import { TokenBuckets } from './token-buckets.ts';

/**
 * Throttling in one process: at most `maxInFlight` envelopes of a subject at once, and at
 * most `rate` a second from one sender (a token bucket with `burst`). An envelope over a
 * limit waits for its turn, unacked and kept alive, so it is never dropped and never
 * redelivered elsewhere meanwhile; waiting holds one of the process's `concurrency` slots,
 * so the limits should stay below it.
 */
export interface ThrottleOptions {
  readonly subjects: Readonly<Record<string, { readonly maxInFlight?: number }>>;
  readonly senderRate?: { readonly rate: number; readonly burst: number };
  readonly now?: () => number;
}

export class Throttle {
  readonly #inFlight = new Map<string, number>();
  readonly #waiting = new Map<string, (() => void)[]>();
  readonly #buckets: TokenBuckets | undefined;

  constructor(private readonly options: ThrottleOptions) {
    const rate = options.senderRate;
    this.#buckets = rate ? new TokenBuckets({ rate: rate.rate, burst: rate.burst, ...(options.now ? { now: options.now } : {}) }) : undefined;
  }

  /** True when nothing is configured: the runner then skips the throttle entirely. */
  get inactive(): boolean {
    return !Object.values(this.options.subjects).some((s) => s.maxInFlight !== undefined) && !this.options.senderRate;
  }

  /** Waits for a sender token and a subject slot; returns the release of the slot. */
  async acquire(subject: string, sender: string): Promise<() => void> {
    await this.#token(sender);
    const limit = this.options.subjects[subject]?.maxInFlight;
    if (limit === undefined) return () => undefined;
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

  async #token(sender: string): Promise<void> {
    if (!this.#buckets) return;
    for (let wait = this.#buckets.take(sender); wait > 0; wait = this.#buckets.take(sender)) {
      await new Promise((resolve) => setTimeout(resolve, wait));
    }
  }
}
