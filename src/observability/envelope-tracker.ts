import type { EventEmitter } from 'node:events';
import type { MailroomEvents } from '../core/mailroom-types.ts';
import type { EnvelopeTransition } from '../runtime/envelope-runner.ts';
import type { EnvelopeStatus } from '../runtime/status-store.ts';
import { EnvelopeStates, type ActorInFlight } from './envelope-states.ts';

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
  /** How many recent settled envelopes to keep (default 200). */
  readonly capacity?: number;
  /**
   * The in-flight table to read, kept by whoever passes it (`startObservability` feeds one
   * table for the metrics and the tracker). Default: a table of the tracker's own, fed by `attach`.
   */
  readonly states?: EnvelopeStates;
}

interface SettledEntry {
  readonly status: EnvelopeStatus;
  /** When it settled here (ms), for ordering. */
  readonly at: number;
}

const envelopeKey = (from: string, correlation: string) => `${from}\u0000${correlation}`;
const iso = (ms: number) => new Date(ms).toISOString();

/** The dashboard row of an actor in flight, built when someone reads it. */
function trackedInFlight({ last, steps }: ActorInFlight): TrackedEnvelope {
  const history: { state: string; at: string }[] = [];
  for (let i = 0; i < steps.length; i += 2) history.push({ state: steps[i] as string, at: iso(steps[i + 1] as number) });
  const traceId = last.trace?.traceparent.split('-')[1];
  return {
    from: last.from,
    to: last.to,
    subject: last.subject,
    correlation: last.correlation,
    attempt: last.attempt,
    state: last.state,
    final: false,
    history,
    ...(traceId ? { traceId } : {}),
    updatedAt: iso(last.at),
  };
}

/** The dashboard row of a settled envelope: its stored status, which holds the whole story. */
function trackedSettled(status: EnvelopeStatus): TrackedEnvelope {
  return {
    from: status.from,
    to: status.to,
    subject: status.subject,
    correlation: status.correlation,
    attempt: status.attempt,
    state: status.state,
    final: status.final,
    history: [...status.history],
    ...(status.discard ? { discard: { reason: status.discard.reason, detail: status.discard.detail } } : {}),
    ...(status.deadLetter ? { deadLetter: { reason: status.deadLetter.reason, detail: status.deadLetter.detail } } : {}),
    updatedAt: status.updatedAt,
  };
}

/**
 * The recent envelopes of this process and the live number of actors in each state, for the
 * dashboard. Fed by counters: a transition moves a count in the in-flight table
 * ({@link EnvelopeStates}) and a settled envelope keeps a reference to its status; the rows
 * (ISO times, histories) are built only when the dashboard reads them. Bounded: the oldest
 * settled envelope goes when a new one arrives at capacity.
 */
export class EnvelopeTracker {
  private readonly capacity: number;
  private readonly states: EnvelopeStates;
  private readonly ownsStates: boolean;
  private readonly settledByKey = new Map<string, SettledEntry>();
  private readonly listeners = new Set<() => void>();

  constructor(options: EnvelopeTrackerOptions = {}) {
    this.capacity = Math.max(1, options.capacity ?? 200);
    this.ownsStates = options.states === undefined;
    this.states = options.states ?? new EnvelopeStates();
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
    if (this.ownsStates) this.states.apply(t);
    this.changed();
  }

  settled(status: EnvelopeStatus): void {
    if (this.ownsStates) this.states.settled(status);
    const key = envelopeKey(status.from, status.correlation);
    if (this.settledByKey.has(key)) this.settledByKey.delete(key);
    else if (this.settledByKey.size >= this.capacity) this.settledByKey.delete(this.settledByKey.keys().next().value!);
    // Re-inserted: a Map keeps insertion order, so the most recently settled is last.
    this.settledByKey.set(key, { status, at: Date.now() });
    this.changed();
  }

  /** Newest first: the actors in flight and the recently settled envelopes, one row per envelope. */
  recent(limit = 50): TrackedEnvelope[] {
    const rows: { at: number; key: string; build: () => TrackedEnvelope }[] = [];
    const live = new Set<string>();
    for (const actor of this.states.inFlight()) {
      const key = envelopeKey(actor.last.from, actor.last.correlation);
      live.add(key);
      rows.push({ at: actor.last.at, key, build: () => trackedInFlight(actor) });
    }
    // An envelope in flight again (a retry, a replay) shows as it is now.
    for (const [key, entry] of this.settledByKey) if (!live.has(key)) rows.push({ at: entry.at, key, build: () => trackedSettled(entry.status) });
    // Newest first; within one millisecond, the later one first (the sort is stable).
    rows.reverse().sort((a, b) => b.at - a.at);
    return rows.slice(0, Math.max(0, limit)).map((row) => row.build());
  }

  /** The recent envelopes with this correlation (a request and its reply share one). */
  find(correlation: string): TrackedEnvelope[] {
    return this.recent(Number.MAX_SAFE_INTEGER).filter((e) => e.correlation === correlation);
  }

  counts(): StateCounts {
    return { inFlight: Object.fromEntries(this.states.counts()), finished: Object.fromEntries(this.states.finals()) };
  }

  /** Called after every change (the dashboard throttles its pushes). */
  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private changed(): void {
    for (const listener of this.listeners) listener();
  }
}
