import { TokenBuckets } from './token-buckets.ts';

/** Options of {@link FeedbackLimiter}: per claimed sender domain, in this process. */
export interface FeedbackLimiterOptions {
  /** Feedback envelopes a second per sender domain. */
  readonly rate: number;
  /** Feedback envelopes at once per sender domain. */
  readonly burst: number;
  readonly now?: () => number;
  /** Told about each suppressed feedback (for the metric). */
  readonly onSuppressed?: (sender: string) => void;
}

/**
 * Feedback cannot be used as an amplifier. An unverified envelope can claim any sender, and a
 * discarded one sends `Feedback@Buffer` to that sender's buffer domain: without a limit, anyone
 * could make this runtime sign and send feedback at whoever a sender names as its buffer, as
 * fast as they can post. The limit is a token bucket per claimed sender domain, in this process
 * (N processes allow N × the rate); feedback over it is not sent (the envelope ends `noFeedback`).
 */
export class FeedbackLimiter {
  readonly #buckets: TokenBuckets;
  readonly #onSuppressed: ((sender: string) => void) | undefined;

  constructor(options: FeedbackLimiterOptions) {
    this.#buckets = new TokenBuckets({ rate: options.rate, burst: options.burst, ...(options.now ? { now: options.now } : {}) });
    this.#onSuppressed = options.onSuppressed;
  }

  /** True when feedback about an envelope claiming `sender` may go out now (and counts it). */
  allow(sender: string): boolean {
    if (this.#buckets.take(sender) === 0) return true;
    this.#onSuppressed?.(sender);
    return false;
  }
}
