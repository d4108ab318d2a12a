import type { EnvelopeTransition } from '../runtime/envelope-runner.ts';
import type { EnvelopeStatus } from '../runtime/status-store.ts';
import { envelopeFinalStates } from '../../machines/envelope.machine.ts';
import { actorKey } from './actor-states.ts';

/** One envelope actor in flight: its current state, since when, and the transitions it made so far. */
export interface ActorInFlight {
  /** The latest transition: who the envelope is, the state it is in, and since when (`at`). */
  last: EnvelopeTransition;
  /** The states this actor entered and when, flat (`state, at, state, at, …`): no object per step. */
  readonly steps: (string | number)[];
}

/** What one transition or settlement changed, for whoever listens after the table. */
export interface StateChange {
  readonly key: string;
  /** The actor's entry before this transition (its state then, and since when). */
  readonly left?: { readonly state: string; readonly enteredAt: number };
}

const FINAL: ReadonlySet<string> = new Set(envelopeFinalStates);

/**
 * The envelope actors in flight in this process and the totals per final state, kept from the
 * runtime's `transition` and `settled` events once, for every reader: the metrics' in-flight
 * gauge, the dashboard's counts and its recent list. Counters, not records: a transition moves
 * one count and updates one entry; nothing is formatted until someone reads.
 */
export class EnvelopeStates {
  private readonly current = new Map<string, ActorInFlight>();
  private readonly perState = new Map<string, number>();
  private readonly finished = new Map<string, number>();

  /** Applies one transition; returns the actor's key and the state it left (if this table knew it). */
  apply(t: EnvelopeTransition): StateChange {
    const key = actorKey(t);
    const entry = this.current.get(key);
    let left: StateChange['left'];
    if (entry) {
      left = { state: entry.last.state, enteredAt: entry.last.at };
      this.bump(entry.last.state, -1);
    }
    if (FINAL.has(t.state)) {
      this.current.delete(key);
      // An envelope answered before ends its actor here, but its outcome was counted the first time.
      if (!t.answeredBefore) this.finished.set(t.state, (this.finished.get(t.state) ?? 0) + 1);
    } else {
      if (entry) {
        entry.last = t;
        entry.steps.push(t.state, t.at);
      } else this.current.set(key, { last: t, steps: [t.previous, t.at, t.state, t.at] });
      this.bump(t.state, +1);
    }
    return left ? { key, left } : { key };
  }

  /** Forgets an actor (it settled, or failed without reaching a final state). */
  forget(key: string): void {
    const entry = this.current.get(key);
    if (!entry) return;
    this.current.delete(key);
    this.bump(entry.last.state, -1);
  }

  /** Forgets the actor a settled status is about; returns its key. */
  settled(status: EnvelopeStatus): string {
    const key = actorKey(status);
    this.forget(key);
    return key;
  }

  /** Actors in flight per non-final state (states with none are absent). */
  counts(): ReadonlyMap<string, number> {
    return this.perState;
  }

  /** Actors that reached each final state since start. */
  finals(): ReadonlyMap<string, number> {
    return this.finished;
  }

  /** The actors in flight, oldest first (by when they were first seen). */
  inFlight(): IterableIterator<ActorInFlight> {
    return this.current.values();
  }

  get size(): number {
    return this.current.size;
  }

  private bump(state: string, by: number): void {
    const next = (this.perState.get(state) ?? 0) + by;
    if (next > 0) this.perState.set(state, next);
    else this.perState.delete(state);
  }
}
