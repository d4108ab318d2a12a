/**
 * Token buckets by key, in this process: `rate` tokens a second, at most `burst` held. One
 * formula for every per-key rate limit (the throttle's sender rate, the feedback limit).
 * Memory stays bounded: past `maxKeys`, buckets that refilled (the same as absent) go first.
 */
export interface TokenBucketsOptions {
  readonly rate: number;
  readonly burst: number;
  readonly now?: () => number;
  /** Keys tracked at most (default 10,000). */
  readonly maxKeys?: number;
}

interface Bucket {
  tokens: number;
  at: number;
}

export class TokenBuckets {
  readonly #buckets = new Map<string, Bucket>();
  readonly #now: () => number;
  readonly #maxKeys: number;

  constructor(private readonly options: TokenBucketsOptions) {
    this.#now = options.now ?? Date.now;
    this.#maxKeys = options.maxKeys ?? 10_000;
  }

  /** Takes a token for `key`: 0 when taken, else the milliseconds until one is there (nothing taken). */
  take(key: string): number {
    const { rate, burst } = this.options;
    const now = this.#now();
    const bucket = this.#buckets.get(key) ?? this.#add(key, now);
    bucket.tokens = Math.min(burst, bucket.tokens + (Math.max(0, now - bucket.at) / 1000) * rate);
    bucket.at = now;
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return 0;
    }
    return Math.ceil(((1 - bucket.tokens) / rate) * 1000);
  }

  #add(key: string, now: number): Bucket {
    if (this.#buckets.size >= this.#maxKeys) this.#evict(now);
    const bucket = { tokens: this.options.burst, at: now };
    this.#buckets.set(key, bucket);
    return bucket;
  }

  #evict(now: number): void {
    const { rate, burst } = this.options;
    for (const [key, b] of this.#buckets) if (b.tokens + ((now - b.at) / 1000) * rate >= burst) this.#buckets.delete(key);
    // Still full of active keys: the oldest go (each may then start again with a full burst).
    for (const key of this.#buckets.keys()) {
      if (this.#buckets.size < this.#maxKeys) break;
      this.#buckets.delete(key);
    }
  }
}
