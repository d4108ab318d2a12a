import type { KV } from '@nats-io/kv';
import { isWrongLastSequence } from '../transport/jetstream-errors.ts';
import { isPut, liveEntry } from '../transport/kv-entries.ts';
import { withinDeadline, type StoreRetry } from './within-deadline.ts';

/** One state an envelope passed through, with when. */
export interface StatusStep {
  readonly state: string;
  readonly at: string;
  /** Who caused this step, where it was not the envelope itself: a `replayed` step names the replayer. */
  readonly by?: string;
}

/** Why an envelope was discarded. `source` tells validation from a handler's final error. */
export interface DiscardInfo {
  readonly reason: string;
  readonly detail: string;
  readonly field?: string;
  readonly source: 'validation' | 'handler';
}

/** What the status API shows for one envelope, by sender and correlation. Stored in KV as JSON. */
export interface EnvelopeStatus {
  readonly from: string;
  readonly to: string;
  readonly subject: string;
  readonly correlation: string;
  readonly state: string;
  readonly final: boolean;
  readonly attempt: number;
  readonly history: readonly StatusStep[];
  readonly discard?: DiscardInfo;
  readonly replyCorrelation?: string;
  readonly replySubject?: string;
  /** Why it was dead-lettered; `lastReason` names the last failure when it had a name (e.g. `handler-timeout`). */
  readonly deadLetter?: { readonly reason: string; readonly lastState: string; readonly lastReason?: string; readonly detail: string };
  readonly retryDelayMs?: number;
  /** While `retrying`: the failure that made this attempt retry (`reason` e.g. `handler-timeout`). */
  readonly error?: { readonly message: string; readonly state: string; readonly reason?: string };
  /** The Body, kept for answers only (replies and feedback), so a requester can read them. */
  readonly body?: unknown;
  /** The Hash of the envelope this status is about (absent before it was decoded). */
  readonly hash?: string;
  /**
   * True when this is the status of the verified envelope holding `(from, correlation)`. Such a
   * status is never overwritten by the outcome of an unverified envelope, nor of a different one
   * reusing the correlation.
   */
  readonly verified?: boolean;
  /** Where feedback about a discard went, or why none did (e.g. `feedback: none, manifest has no Feedback`). */
  readonly feedback?: string;
  readonly updatedAt: string;
}

/**
 * The statuses of envelopes, in the JetStream KV bucket `mailroom-status`, so any process can answer.
 * Every write rides out a leader election (`retry`, see {@link withinDeadline}); each is a create,
 * a revision-checked update, or (`put`, tried again) an update at the revision it read.
 */
export class StatusStore {
  constructor(
    private readonly kv: KV,
    private readonly keyOf: (from: string, correlation: string) => string,
    private readonly retry: StoreRetry = {},
  ) {}

  /** Records `queued` at ingress unless the envelope is already known (a duplicate post, or an actor was faster). */
  async recordQueued(status: EnvelopeStatus): Promise<void> {
    await withinDeadline(() => this.createQueued(status), this.retry);
  }

  private async createQueued(status: EnvelopeStatus): Promise<void> {
    try {
      await this.kv.create(this.keyOf(status.from, status.correlation), JSON.stringify(status));
    } catch (error) {
      if (!isAlreadyExists(error)) throw error;
    }
  }

  /** Writes `status` whatever is stored. A try after a failed one updates at the revision it reads: it never writes over a write that came in between. */
  async put(status: EnvelopeStatus): Promise<void> {
    const key = this.keyOf(status.from, status.correlation);
    const data = JSON.stringify(status);
    let first = true;
    await withinDeadline(async () => {
      if (first) {
        first = false;
        await this.kv.put(key, data);
        return;
      }
      const entry = await this.kv.get(key);
      if (isPut(entry) && entry.string() === data) return;
      if (!isPut(entry)) await this.kv.create(key, data);
      else await this.kv.update(key, data, entry.revision);
    }, this.retry);
  }

  /**
   * Writes `status` unless the stored one supersedes it: a final status is never replaced by
   * a non-final one, nor a later attempt's by an earlier one's. For an actor that may have
   * been overtaken by a redelivery of its message. Optimistic: retried on a concurrent write.
   */
  async putUnlessSuperseded(status: EnvelopeStatus): Promise<boolean> {
    return withinDeadline(() => this.writeUnlessSuperseded(status), this.retry);
  }

  private async writeUnlessSuperseded(status: EnvelopeStatus): Promise<boolean> {
    const key = this.keyOf(status.from, status.correlation);
    const data = JSON.stringify(status);
    for (let tries = 0; tries < 5; tries++) {
      const entry = await this.kv.get(key);
      try {
        if (!isPut(entry)) {
          await this.kv.create(key, data);
          return true;
        }
        const current = entry.json<EnvelopeStatus>();
        if ((current.final && !status.final) || current.attempt > status.attempt) return false;
        await this.kv.update(key, data, entry.revision);
        return true;
      } catch (error) {
        if (!isAlreadyExists(error)) throw error;
      }
    }
    return false;
  }

  /**
   * Writes the status of an envelope that does not hold its `(from, correlation)` (unverified,
   * or `correlation-reused`) unless the holder's verified status is there. Compare-and-set:
   * the rare path, a read and a write. False when it was not written.
   */
  async putUnlessHeld(status: EnvelopeStatus): Promise<boolean> {
    return withinDeadline(() => this.writeUnlessHeld(status), this.retry);
  }

  private async writeUnlessHeld(status: EnvelopeStatus): Promise<boolean> {
    const key = this.keyOf(status.from, status.correlation);
    const data = JSON.stringify(status);
    for (let tries = 0; tries < 5; tries++) {
      const entry = liveEntry(await this.kv.get(key));
      try {
        if (!entry) {
          await this.kv.create(key, data);
          return true;
        }
        if (entry.json<EnvelopeStatus>().verified) return false;
        await this.kv.update(key, data, entry.revision);
        return true;
      } catch (error) {
        if (!isAlreadyExists(error)) throw error;
      }
    }
    return false;
  }

  async get(from: string, correlation: string): Promise<EnvelopeStatus | undefined> {
    return liveEntry(await this.kv.get(this.keyOf(from, correlation)))?.json<EnvelopeStatus>();
  }
}

/**
 * True when a KV create failed because the key exists, or an update because another write came
 * first: the server's "wrong last sequence", by its JetStream API error code (10071).
 */
export function isAlreadyExists(error: unknown): boolean {
  return isWrongLastSequence(error);
}
