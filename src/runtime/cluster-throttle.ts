/**
 * The throttle's limits held in JetStream, for every process on one prefix (`scope: cluster`):
 * a KV bucket (`<prefix>-throttle`) with one entry per subject (its in-flight leases) and one
 * per sender (its token bucket), each changed only at the revision it was read at, so two
 * processes never both take the last slot or token.
 *
 * A slot is a lease with a deadline, renewed while its envelope runs: a process that dies
 * (SIGKILL) stops renewing, and its slots count as free once their deadlines pass. Deadlines
 * and refills use each process's clock: keep the machines' clocks within a small part of the
 * lease (NTP).
 */
import { randomUUID } from 'node:crypto';
import { StorageType, type JetStreamClient } from '@nats-io/jetstream';
import { Kvm, type KV, type KvEntry } from '@nats-io/kv';
import { isPut } from '../transport/kv-entries.ts';
import { openBucket } from '../transport/ensure-resource.ts';
import { isWrongLastSequence } from '../transport/jetstream-errors.ts';
import type { Names } from '../transport/names.ts';

/** An entry not written for this long is gone (a sender's bucket refilled long ago, a subject with no lease). */
const BUCKET_TTL_MS = 24 * 60 * 60_000;
/** How often a process waiting for a full subject's slot looks again (one look per subject per process). */
const POLL_MS = 50;

export interface ClusterThrottleOptions {
  readonly kv: KV;
  readonly names: Pick<Names, 'throttleInFlightKey' | 'throttleRateKey'>;
  /** How long a slot stays taken without a renewal (renewed every third of it while the envelope runs). */
  readonly leaseMs: number;
  readonly now?: () => number;
  readonly onError?: (error: unknown, context: string) => void;
}

interface Leases {
  /** Lease ID → deadline (ms since the epoch). */
  readonly leases: Record<string, number>;
}

interface Tokens {
  readonly tokens: number;
  readonly at: number;
}

const encode = (value: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(value));
const decode = <T>(entry: KvEntry | null): T | undefined => (isPut(entry) && entry.length > 0 ? (entry.json<T>() as T) : undefined);
const sleep = (ms: number, signal?: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done);
  });

export class ClusterThrottle {
  readonly #now: () => number;
  /** Per subject, this process's acquirers queue here: only the head reads the bucket. */
  readonly #queues = new Map<string, Promise<void>>();

  constructor(private readonly options: ClusterThrottleOptions) {
    this.#now = options.now ?? Date.now;
  }

  /** Opens the bucket (creating it when missing) and the throttle on it. */
  static async open(js: JetStreamClient, bucket: string, options: Omit<ClusterThrottleOptions, 'kv'> & { readonly replicas?: number }): Promise<ClusterThrottle> {
    const replicas = options.replicas ?? 1;
    try {
      // Direct get only at one copy: with replicas a lagging follower may answer it (kv-entries.ts `readsDirect`).
      await new Kvm(js).create(bucket, { history: 1, ttl: BUCKET_TTL_MS, storage: StorageType.File, replicas, allow_direct: replicas === 1, description: 'Mailroom: cluster-wide throttle (in-flight leases, sender tokens)' });
    } catch (_) {
      // Made by another process (its settings stand).
    }
    // Read as its stream allows, the same in every process: the leader unless it is one copy.
    const kv: KV = await openBucket(js, await js.jetstreamManager(), bucket);
    return new ClusterThrottle({ ...options, kv });
  }

  /**
   * Takes one of `limit` slots of `subject` across the cluster, waiting (in this process's
   * queue for the subject) until one is free or `signal` aborts. Returns its release; the lease
   * is renewed until then. Aborted: nothing is held, the release does nothing.
   */
  async acquireSlot(subject: string, limit: number, signal?: AbortSignal): Promise<() => void> {
    const previous = this.#queues.get(subject) ?? Promise.resolve();
    let done = (): void => undefined;
    const mine = new Promise<void>((resolve) => (done = resolve));
    const tail = previous.then(() => mine);
    this.#queues.set(subject, tail);
    try {
      await previous;
      const id = await this.#takeLease(subject, limit, signal);
      return id === undefined ? () => undefined : this.#held(subject, id);
    } finally {
      done();
      if (this.#queues.get(subject) === tail) this.#queues.delete(subject);
    }
  }

  /** Takes a token of `sender`'s cluster-wide bucket: 0 when taken, else the milliseconds until one is there (nothing taken). */
  async takeToken(sender: string, rate: number, burst: number): Promise<number> {
    const key = this.options.names.throttleRateKey(sender);
    for (;;) {
      const entry = await this.options.kv.get(key);
      const now = this.#now();
      const held = decode<Tokens>(entry) ?? { tokens: burst, at: now };
      const tokens = Math.min(burst, held.tokens + (Math.max(0, now - held.at) / 1000) * rate);
      if (tokens < 1) return Math.ceil(((1 - tokens) / rate) * 1000);
      if (await this.#write(key, entry, { tokens: tokens - 1, at: now })) return 0;
    }
  }

  /** The live leases of `subject` (expired ones left out). */
  async leases(subject: string): Promise<number> {
    const held = decode<Leases>(await this.options.kv.get(this.options.names.throttleInFlightKey(subject)));
    const now = this.#now();
    return Object.values(held?.leases ?? {}).filter((deadline) => deadline > now).length;
  }

  async #takeLease(subject: string, limit: number, signal?: AbortSignal): Promise<string | undefined> {
    const key = this.options.names.throttleInFlightKey(subject);
    const id = randomUUID();
    while (!signal?.aborted) {
      const entry = await this.options.kv.get(key);
      const now = this.#now();
      const live = this.#live(entry, now);
      if (Object.keys(live).length < limit) {
        if (await this.#write(key, entry, { leases: { ...live, [id]: now + this.options.leaseMs } })) return id;
        continue;
      }
      await sleep(POLL_MS, signal);
    }
    return undefined;
  }

  /** A held lease: renewed every third of the lease until released (idempotent). */
  #held(subject: string, id: string): () => void {
    const renew = setInterval(() => {
      this.#change(subject, (live, now) => (id in live ? { ...live, [id]: now + this.options.leaseMs } : live)).catch((error: unknown) => this.options.onError?.(error, `throttle: renewing a slot of ${subject}`));
    }, Math.max(10, Math.floor(this.options.leaseMs / 3)));
    renew.unref();
    let released = false;
    return () => {
      if (released) return;
      released = true;
      clearInterval(renew);
      this.#change(subject, (live) => {
        const { [id]: _, ...rest } = live;
        return rest;
      }).catch((error: unknown) => this.options.onError?.(error, `throttle: releasing a slot of ${subject}`));
    };
  }

  /** Rewrites a subject's leases with `change` (expired ones dropped), at the revision read; retried on a race. */
  async #change(subject: string, change: (live: Record<string, number>, now: number) => Record<string, number>): Promise<void> {
    const key = this.options.names.throttleInFlightKey(subject);
    for (;;) {
      const entry = await this.options.kv.get(key);
      const now = this.#now();
      if (await this.#write(key, entry, { leases: change(this.#live(entry, now), now) })) return;
    }
  }

  #live(entry: KvEntry | null, now: number): Record<string, number> {
    const held = decode<Leases>(entry)?.leases ?? {};
    return Object.fromEntries(Object.entries(held).filter(([, deadline]) => deadline > now));
  }

  /** Writes `value` only if the key is still at `read`'s revision (or still absent); false when another process wrote first. */
  async #write(key: string, read: KvEntry | null, value: Leases | Tokens): Promise<boolean> {
    try {
      if (read) await this.options.kv.update(key, encode(value), read.revision);
      else await this.options.kv.create(key, encode(value));
      return true;
    } catch (error) {
      if (isWrongLastSequence(error)) return false;
      throw error;
    }
  }
}
