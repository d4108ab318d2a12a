import type { KV } from '@nats-io/kv';
import { isAlreadyExists } from './status-store.ts';

/**
 * Replay protection: a correlation may be used once per sender inside the replay window.
 * Held in the KV bucket `mailroom-replay` (bucket TTL = the window), so it holds across
 * restarts and across processes. The value is the inbox stream sequence of the envelope
 * that claimed it, so a redelivery of that same message is not a replay.
 */
export class ReplayGuard {
  constructor(
    private readonly kv: KV,
    private readonly keyOf: (from: string, correlation: string) => string,
  ) {}

  /**
   * Claims the correlation for this message, after its signature verified (so a forger
   * cannot burn a sender's correlation). False when another message holds it.
   */
  async claim(from: string, correlation: string, messageId: string): Promise<boolean> {
    const key = this.keyOf(from, correlation);
    try {
      await this.kv.create(key, messageId);
      return true;
    } catch (error) {
      if (!isAlreadyExists(error)) throw error;
      const entry = await this.kv.get(key);
      return entry !== null && entry.string() === messageId;
    }
  }
}
