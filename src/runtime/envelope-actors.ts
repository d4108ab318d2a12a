import { createActor, fromTransition, type InspectionEvent } from 'xstate';
import { envelopeFinalStates, type EnvelopeActorInput, type EnvelopeActorOutput, type envelopeMachineFromValidating } from '../../machines/envelope.machine.ts';
import { actorInputOf, type DeliveryPolicy, type Flight, type Flights } from './envelope-flight.ts';
import type { Settlement } from './envelope-settlement.ts';
import { isNewStep } from './status-history.ts';
import type { TraceContext } from './trace-context.ts';

/** One state an envelope actor entered. `previous` is the state it left. */
export interface EnvelopeTransition {
  readonly from: string;
  readonly to: string;
  readonly subject: string;
  readonly correlation: string;
  readonly attempt: number;
  readonly previous: string;
  readonly state: string;
  readonly at: number;
  /** When the actor entered `previous` (ms), when this process saw it (absent for the first state an actor enters). */
  readonly since?: number;
  /** The W3C trace context the envelope arrived with, if any. */
  readonly trace?: TraceContext;
  /**
   * Set on the final transition of an actor whose envelope was answered before (a redelivery
   * found its final status): it ends what its first transition began (counts, spans) and is
   * not a new outcome. Nothing is written or settled as news for it; no `settled` event follows.
   */
  readonly answeredBefore?: true;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

const FINAL_STATES: ReadonlySet<string> = new Set(envelopeFinalStates);

/** The last instant formatted: the states of many envelopes are entered within the same millisecond. */
let lastAt = Number.NaN;
let lastIso = '';
function isoAt(at: number): string {
  if (at !== lastAt) {
    lastIso = new Date(at).toISOString();
    lastAt = at;
  }
  return lastIso;
}

/** What running envelope actors needs besides the machine and the settlement. */
export interface EnvelopeActorsDeps {
  readonly delivery: DeliveryPolicy;
  /** Every state an envelope actor enters, as it happens (for metrics and the dashboard). */
  readonly onTransition?: (transition: EnvelopeTransition) => void;
  readonly onError?: (error: unknown, context: string) => void;
  readonly inspect?: (event: InspectionEvent) => void;
}

/** Runs one envelope actor per flight, in one actor system, and settles each when it is done. */
export interface EnvelopeActors {
  /** Resolves when the flight's actor is done and its message settled (or given back). */
  run(key: string, flight: Flight): Promise<void>;
  stop(): void;
}

/** What an {@link ActorObserver} reports to. */
interface ActorOwner {
  readonly deps: EnvelopeActorsDeps;
  readonly flights: Flights;
  readonly settlement: Settlement;
}

/**
 * Watches one envelope actor: records each state it enters (history, `onTransition`) and
 * settles its message when it is done. A class, so an envelope costs one object here
 * instead of a handful of closures.
 */
class ActorObserver {
  subscription?: { unsubscribe(): void };
  /** When the actor entered its current state (ms). */
  private enteredAt: number | undefined;
  /** Whether a transition of this actor was reported (`onTransition`). */
  private announced = false;

  constructor(
    private readonly owner: ActorOwner,
    private readonly id: string,
    private readonly messageId: string,
    private readonly flight: Flight,
    private readonly input: EnvelopeActorInput,
    private readonly resolve: () => void,
  ) {}

  record(value: unknown): void {
    const state = String(value);
    const { input, flight } = this;
    const history = flight.history;
    if (!isNewStep(history, state)) return;
    const at = Date.now();
    const previous = history[history.length - 1]?.state ?? 'queued';
    const since = this.enteredAt;
    this.enteredAt = at;
    const onTransition = this.owner.deps.onTransition;
    // An envelope answered before is only settled: its actor's steps are no news. Its first step
    // was reported before validation knew that: its final one is too, marked, to close it.
    const answeredBefore = flight.settledAs !== undefined;
    if (onTransition && (!answeredBefore || (this.announced && FINAL_STATES.has(state)))) {
      const t: Mutable<EnvelopeTransition> = { from: input.from, to: input.to, subject: input.subject, correlation: input.correlation, attempt: input.attempt, previous, state, at };
      if (since !== undefined) t.since = since;
      if (flight.trace) t.trace = flight.trace;
      if (answeredBefore) t.answeredBefore = true;
      this.announced = true;
      onTransition(t);
    }
    // Appended in place: the flight's history is this run's own array until it is stored.
    history.push({ state, at: isoAt(at) });
  }

  next(snapshot: { value: unknown; status: string; output?: unknown }): void {
    this.record(snapshot.value);
    if (snapshot.status !== 'done') return;
    this.subscription?.unsubscribe();
    this.owner.settlement
      .finish(this.flight, this.input, snapshot.output as EnvelopeActorOutput)
      .catch((error: unknown) => {
        this.owner.deps.onError?.(error, `settling ${this.id}`);
        this.owner.settlement.giveBack(this.flight);
      })
      .finally(() => this.done());
  }

  error(error: unknown): void {
    this.owner.deps.onError?.(error, `envelope actor ${this.id}`);
    this.owner.settlement.giveBack(this.flight);
    this.done();
  }

  private done(): void {
    this.owner.flights.delete(this.messageId);
    this.resolve();
  }
}

/**
 * Starts the actor system envelope actors join and returns how to run one per flight. The
 * message is settled only when its actor reaches a final state.
 */
export function startEnvelopeActors(logic: typeof envelopeMachineFromValidating, flights: Flights, settlement: Settlement, deps: EnvelopeActorsDeps): EnvelopeActors {
  // The root of the actor system every envelope actor joins (one clock, one inspection
  // stream). Envelope actors name it as their parent instead of being spawned into a
  // machine's `children`, which XState copies on every spawn and stop: O(actors in flight).
  const system = createActor(
    fromTransition((state: null) => state, null),
    { id: 'mailroom', ...(deps.inspect ? { inspect: deps.inspect } : {}) },
  );
  system.start();
  const owner: ActorOwner = { deps, flights, settlement };
  return {
    run: (key, flight) =>
      new Promise<void>((resolve) => {
        const input = actorInputOf(flight, deps.delivery);
        const id = `${flight.msg.seq}.${flight.msg.info.deliveryCount}`;
        const child = createActor(logic, { id, input, parent: system });
        const observer = new ActorObserver(owner, id, key, flight, input, resolve);
        observer.subscription = child.subscribe(observer);
        child.start();
        const snapshot = child.getSnapshot();
        if (snapshot.status === 'active') observer.record(snapshot.value);
      }),
    stop: () => system.stop(),
  };
}
