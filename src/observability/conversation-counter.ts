import type { EventEmitter } from 'node:events';
import type { MailroomEvents } from '../core/mailroom-types.ts';
import type { StateCounts } from './envelope-tracker.ts';

/**
 * Live counts of the conversation machine, for the conversations this process started:
 * how many wait (awaitingReply) and how many ended in each final state since start. The
 * waiting ones are passivated to KV, not in memory; this counts them, it does not hold them.
 */
export class ConversationCounter {
  #waiting = 0;
  readonly #finished = new Map<string, number>();
  readonly #listeners = new Set<() => void>();

  /** Calls `listener` after every change of the counts; returns the unsubscribe. */
  onChange(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  attach(events: EventEmitter<MailroomEvents>): () => void {
    const listener = ({ state }: { state: string }) => {
      if (state === 'awaitingReply') this.#waiting++;
      else {
        this.#waiting = Math.max(0, this.#waiting - 1);
        this.#finished.set(state, (this.#finished.get(state) ?? 0) + 1);
      }
      for (const notify of this.#listeners) notify();
    };
    events.on('conversation', listener);
    return () => events.off('conversation', listener);
  }

  counts(): StateCounts {
    return { inFlight: { awaitingReply: this.#waiting }, finished: Object.fromEntries(this.#finished) };
  }
}
