import type { EventEmitter } from 'node:events';
import type { MailroomEvents } from '../core/mailroom-types.ts';
import type { EnvelopeTransition } from '../runtime/envelope-runner.ts';
import type { EnvelopeStatus } from '../runtime/status-store.ts';
import { envelopeFinalStates } from '../../machines/envelope.machine.ts';
import { ActorStates, actorKey } from './actor-states.ts';

/** One recent envelope as the dashboard shows it. */
export interface TrackedEnvelope {
  readonly from: string;
  readonly to: string;
  readonly subject: string;
  readonly correlation: string;
  attempt: number;
  state: string;
  /** True once the envelope settled in a state it will not leave (not `retrying`). */
  final: boolean;
  history: { readonly state: string; readonly at: string }[];
  discard?: { readonly reason: string; readonly detail: string };
  deadLetter?: { readonly reason: string; readonly detail: string };
  traceId?: string;
  updatedAt: string;
}

/** Live counts for one machine: actors in flight per state, and totals per final state since start. */
export interface StateCounts {
  readonly inFlight: Readonly<Record<string, number>>;
  readonly finished: Readonly<Record<string, number>>;
}

export interface EnvelopeTrackerOptions {
  /** How many recent envelopes to keep (default 200). */
  readonly capacity?: number;
}

const envelopeKey = (from: string, correlation: string) => `${from}\u0000${correlation}`;

/**
 * The recent envelopes of this process and the live number of actors in each state, kept
 * in memory from the runtime's `transition` and `settled` events. Bounded: the oldest
 * envelope goes when a new one arrives at capacity.
 */
export class EnvelopeTracker {
  private readonly capacity: number;
  private readonly recentByKey = new Map<string, TrackedEnvelope>();
  private readonly actors = new ActorStates(new Set(envelopeFinalStates));
  private readonly finished = new Map<string, number>();
  private readonly listeners = new Set<() => void>();

  constructor(options: EnvelopeTrackerOptions = {}) {
    this.capacity = Math.max(1, options.capacity ?? 200);
  }

  /** Listens to a runtime's events; returns a function that stops listening. */
  attach(events: EventEmitter<MailroomEvents>): () => void {
    const onTransition = (t: EnvelopeTransition) => this.transition(t);
    const onSettled = (s: EnvelopeStatus) => this.settled(s);
    events.on('transition', onTransition);
    events.on('settled', onSettled);
    return () => {
      events.off('transition', onTransition);
      events.off('settled', onSettled);
    };
  }

  transition(t: EnvelopeTransition): void {
    this.actors.apply(t);
    if ((envelopeFinalStates as readonly string[]).includes(t.state)) this.finished.set(t.state, (this.finished.get(t.state) ?? 0) + 1);
    const at = new Date(t.at).toISOString();
    const tracked = this.touch(t.from, t.correlation, () => ({
      from: t.from,
      to: t.to,
      subject: t.subject,
      correlation: t.correlation,
      attempt: t.attempt,
      state: t.previous,
      final: false,
      history: [{ state: t.previous, at }],
      updatedAt: at,
    }));
    if (t.attempt > tracked.attempt) tracked.history.push({ state: t.previous, at });
    tracked.attempt = t.attempt;
    tracked.state = t.state;
    tracked.final = false;
    tracked.history.push({ state: t.state, at });
    tracked.updatedAt = at;
    const traceId = t.trace?.traceparent.split('-')[1];
    if (traceId) tracked.traceId = traceId;
    this.changed();
  }

  settled(status: EnvelopeStatus): void {
    this.actors.forget(actorKey(status));
    const { from, to, subject, correlation } = status;
    const tracked = this.touch(from, correlation, () => ({ from, to, subject, correlation, attempt: status.attempt, state: status.state, final: status.final, history: [], updatedAt: status.updatedAt }));
    tracked.attempt = status.attempt;
    tracked.state = status.state;
    tracked.final = status.final;
    // The stored history is the whole story (received, queued, earlier attempts).
    tracked.history = [...status.history];
    // A replayed or retried envelope has a new outcome: an earlier reason no longer applies.
    if (status.discard) tracked.discard = { reason: status.discard.reason, detail: status.discard.detail };
    else delete tracked.discard;
    if (status.deadLetter) tracked.deadLetter = { reason: status.deadLetter.reason, detail: status.deadLetter.detail };
    else delete tracked.deadLetter;
    tracked.updatedAt = status.updatedAt;
    this.changed();
  }

  /** Newest first. */
  recent(limit = 50): TrackedEnvelope[] {
    return [...this.recentByKey.values()].reverse().slice(0, limit);
  }

  /** The recent envelopes with this correlation (a request and its reply share one). */
  find(correlation: string): TrackedEnvelope[] {
    return this.recent(this.capacity).filter((e) => e.correlation === correlation);
  }

  counts(): StateCounts {
    return { inFlight: Object.fromEntries(this.actors.counts()), finished: Object.fromEntries(this.finished) };
  }

  /** Called after every change (the dashboard throttles its pushes). */
  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private touch(from: string, correlation: string, create: () => TrackedEnvelope): TrackedEnvelope {
    const key = envelopeKey(from, correlation);
    let tracked = this.recentByKey.get(key);
    if (tracked) this.recentByKey.delete(key);
    else {
      tracked = create();
      if (this.recentByKey.size >= this.capacity) this.recentByKey.delete(this.recentByKey.keys().next().value!);
    }
    // Re-inserted: a Map keeps insertion order, so the most recently touched is last.
    this.recentByKey.set(key, tracked);
    return tracked;
  }

  private changed(): void {
    for (const listener of this.listeners) listener();
  }
}
