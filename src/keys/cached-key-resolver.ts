import { ConfigError } from '../errors.ts';
import { normaliseDomain } from './dkim-record-name.ts';
import type { KeyResolver } from './key-resolver.ts';
import type { PublicKey } from './public-key.ts';

export interface CachedKeyResolverOptions {
  /** How long a found key is kept, in ms. Default 300_000 (5 minutes). */
  ttlMs?: number;
  /** How long a "no such key" answer is kept, in ms. Default 60_000. */
  negativeTtlMs?: number;
  /** At most this many answers are kept; the least recently used goes first. Default 10_000. */
  maxEntries?: number;
  /** The clock, in ms. Default `Date.now`. */
  now?: () => number;
}

/** A caching `KeyResolver`. */
export interface CachedKeyResolver extends KeyResolver {
  /** Forgets every cached answer (look-ups under way are not stored). */
  clear(): void;
  /** The number of cached answers, expired ones included until they are next looked up or evicted. */
  readonly size: number;
}

interface Entry {
  readonly key: PublicKey | undefined;
  readonly expiresAt: number;
}

function checkedOption(name: string, value: number, min: number): number {
  if (!(value >= min) || Number.isNaN(value)) {
    throw new ConfigError(`${name} must be a number >= ${min}, got ${value}`, [{ path: name, message: `must be >= ${min}` }]);
  }
  return value;
}

/**
 * Puts a cache in front of a resolver. Found keys are kept for `ttlMs`, "no such key"
 * answers for `negativeTtlMs`; failures (`KeyLookupError`) are never cached, so the next
 * look-up asks again. Concurrent look-ups of the same domain and selector share one call
 * to `inner`. Domains are compared case-insensitively; selectors exactly.
 *
 * When full (`maxEntries`), the least recently used answer is evicted.
 *
 * @throws ConfigError when an option is negative (or `maxEntries` < 1).
 * @example
 * ```ts
 * const keys = createCachedKeyResolver(createDnsKeyResolver({ requireDnssec: true }), { ttlMs: 600_000 });
 * await keys.resolve('sender.example.com', 'pw1'); // asks DNS
 * await keys.resolve('sender.example.com', 'pw1'); // from the cache
 * ```
 */
export function createCachedKeyResolver(inner: KeyResolver, options: CachedKeyResolverOptions = {}): CachedKeyResolver {
  const ttlMs = checkedOption('ttlMs', options.ttlMs ?? 300_000, 0);
  const negativeTtlMs = checkedOption('negativeTtlMs', options.negativeTtlMs ?? 60_000, 0);
  const maxEntries = checkedOption('maxEntries', options.maxEntries ?? 10_000, 1);
  const now = options.now ?? Date.now;
  // A Map iterates in insertion order: re-inserting on use keeps the least recently used first.
  const entries = new Map<string, Entry>();
  const inFlight = new Map<string, Promise<PublicKey | undefined>>();
  let generation = 0;

  const cached = (id: string): Entry | undefined => {
    const entry = entries.get(id);
    if (!entry) return undefined;
    entries.delete(id);
    if (now() >= entry.expiresAt) return undefined;
    entries.set(id, entry);
    return entry;
  };

  const store = (id: string, key: PublicKey | undefined): void => {
    entries.delete(id);
    entries.set(id, { key, expiresAt: now() + (key === undefined ? negativeTtlMs : ttlMs) });
    for (const oldest of entries.keys()) {
      if (entries.size <= maxEntries) break;
      entries.delete(oldest);
    }
  };

  const lookUp = async (id: string, domain: string, selector: string | undefined): Promise<PublicKey | undefined> => {
    const started = generation;
    const key = await inner.resolve(domain, selector);
    if (started === generation) store(id, key);
    return key;
  };

  return {
    resolve(domain, selector) {
      const id = JSON.stringify([normaliseDomain(domain), selector ?? null]);
      const hit = cached(id);
      if (hit) return Promise.resolve(hit.key);
      const shared = inFlight.get(id);
      if (shared) return shared;
      const pending = lookUp(id, domain, selector);
      inFlight.set(id, pending);
      const settled = (): void => {
        if (inFlight.get(id) === pending) inFlight.delete(id);
      };
      pending.then(settled, settled);
      return pending;
    },
    clear() {
      generation++;
      entries.clear();
      inFlight.clear();
    },
    get size() {
      return entries.size;
    },
  };
}
