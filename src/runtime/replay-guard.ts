import type { KV } from '@nats-io/kv';
import { isAlreadyExists } from './status-store.ts';
import { isPut } from '../transport/kv-entries.ts';
import { withinDeadline, type StoreRetry } from './within-deadline.ts';

/**
 * What a claim found: `claimed` — this envelope is the first to use the correlation;
 * `same` — the correlation is held by this very envelope (same Hash: a redelivery, a re-post,
 * a dead-letter replay); `reused` — a different envelope holds it.
 */
export type ClaimOutcome = 'claimed' | 'same' | 'reused';

/**
 * Replay protection: a correlation may be used by one envelope per sender inside the replay
 * window. Held in the KV bucket `mailroom-replay` (bucket TTL = the window), so it holds across
 * restarts of the runtime and of nats-server, and across processes. The value is the Hash of
 * the envelope that claimed it: the same envelope delivered again is recognised as itself,
 * whatever stream sequence it arrived under.
 */
export class ReplayGuard {
  constructor(
    private readonly kv: KV,
    private readonly keyOf: (from: string, correlation: string) => string,
    private readonly retry: StoreRetry = {},
  ) {}

  /**
   * Claims the correlation for the envelope with this Hash. Call it only after the signature
   * verified, so a forger can never burn a sender's correlation. One KV create on the usual
   * path; a read as well when the key exists. Rides out a leader election: a create tried again
   * after its answer was lost finds its own Hash, so the outcome is `same`, never `reused`.
   */
  claim(from: string, correlation: string, hash: string): Promise<ClaimOutcome> {
    return withinDeadline(() => this.claimOnce(from, correlation, hash), this.retry);
  }

  private async claimOnce(from: string, correlation: string, hash: string, again = true): Promise<ClaimOutcome> {
    const key = this.keyOf(from, correlation);
    try {
      await this.kv.create(key, hash);
      return 'claimed';
    } catch (error) {
      if (!isAlreadyExists(error)) throw error;
      const entry = await this.kv.get(key);
      // Deleted or expired between the create and the read: claim it again.
      if (!isPut(entry)) return again ? this.claimOnce(from, correlation, hash, false) : 'reused';
      return entry.string() === hash ? 'same' : 'reused';
    }
  }
}
