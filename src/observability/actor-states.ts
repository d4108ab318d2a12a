import type { EnvelopeTransition } from '../runtime/envelope-runner.ts';

/** Identifies one envelope actor: one delivery attempt of one envelope. */
export const actorKey = (t: { readonly from: string; readonly correlation: string; readonly attempt: number }): string =>
  `${t.from}\u0000${t.correlation}\u0000${t.attempt}`;

/** The state an actor left, and since when it had been in it. */
export interface LeftState {
  readonly state: string;
  readonly enteredAt: number;
}

/**
 * The current state of every envelope actor in flight in this process, kept from the
 * `transition` events: +1 on entering a state, −1 on leaving it. An actor that reaches a
 * final state leaves the table (final states are counted once, by whoever reads `apply`).
 */
export class ActorStates {
  private readonly current = new Map<string, { state: string; enteredAt: number }>();
  private readonly perState = new Map<string, number>();

  constructor(private readonly finalStates: ReadonlySet<string>) {}

  /** Applies one transition; returns the state the actor left, if this table knew it. */
  apply(t: EnvelopeTransition): LeftState | undefined {
    const key = actorKey(t);
    const left = this.current.get(key);
    if (left) this.bump(left.state, -1);
    if (this.finalStates.has(t.state)) this.current.delete(key);
    else {
      this.current.set(key, { state: t.state, enteredAt: t.at });
      this.bump(t.state, +1);
    }
    return left;
  }

  /** Forgets an actor (it settled, or failed without reaching a final state). */
  forget(key: string): void {
    const left = this.current.get(key);
    if (!left) return;
    this.current.delete(key);
    this.bump(left.state, -1);
  }

  /** Actors in flight per non-final state (states with none are absent). */
  counts(): ReadonlyMap<string, number> {
    return this.perState;
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
