/**
 * The envelope runner: consumes the inbox, runs one envelope actor per message, and settles
 * the message when the actor is done. Built from four parts, each readable alone:
 *
 * - `envelope-loop.ts`: the consume loops, throttle, load limit and keep-alive; a message
 *   becomes a flight (`envelope-flight.ts`);
 * - `envelope-actors.ts`: the actor system, one actor per flight, its transitions and history;
 * - `envelope-steps.ts`: the machine's steps (validate, handle, reply, sendFeedback, deadLetter);
 * - `envelope-settlement.ts`: the status, the callback, then the ack or nak.
 *
 * The status history's rules (initial steps, appending, continuing a retry's or a replay's
 * stored history) are in `status-history.ts`, shared with the inbox.
 */
import type { EnvelopeActorInput } from '../../machines/envelope.machine.ts';
import { startEnvelopeActors, type EnvelopeActorsDeps } from './envelope-actors.ts';
import type { Flights } from './envelope-flight.ts';
import { startEnvelopeLoop, type EnvelopeLoopDeps } from './envelope-loop.ts';
import { createSettlement, type SettlementDeps } from './envelope-settlement.ts';
import { provideEnvelopeMachine, type EnvelopeStepDeps } from './envelope-steps.ts';

export type { EnvelopeTransition } from './envelope-actors.ts';
export { CALLBACK_HEADER, RECEIVED_AT_HEADER, REPLAYED_BY_HEADER } from '../transport/message-headers.ts';

/** What the runner needs; built by `createMailroom`. Each part takes its own share. */
export interface EnvelopeRunnerDeps extends EnvelopeLoopDeps, EnvelopeStepDeps, SettlementDeps, EnvelopeActorsDeps {
  readonly delivery: {
    maxAttempts: number;
    concurrency: number;
    ackWaitMs: number;
    retry: EnvelopeActorInput['retry'];
    /** The longest a handler may run (default 30 s): then the attempt fails as retryable, `handler-timeout`. */
    handlerTimeoutMs?: number;
    /** The longest `stop()` waits for the envelopes in flight (default: until they are done); then their handlers are aborted and their messages naked. */
    stopGraceMs?: number;
    /** Per-subject overrides of the attempts, the backoff and the handler timeout. */
    subjects?: Readonly<Record<string, { readonly maxAttempts?: number; readonly retry?: EnvelopeActorInput['retry']; readonly handlerTimeoutMs?: number }>>;
  };
}

/**
 * A running consume loop. `stop()` stops pulling, waits for the actors in flight (at most
 * `delivery.stopGraceMs`; then aborts their handlers and naks their messages), and is idempotent.
 */
export interface EnvelopeRunner {
  readonly inFlight: () => number;
  stop(): Promise<void>;
}

/**
 * Consumes the inbox: every delivered message becomes an envelope actor, spawned in one
 * actor system (the `mailroom` root actor), and the message is settled only when the
 * actor reaches a final state.
 */
export async function startEnvelopeRunner(deps: EnvelopeRunnerDeps): Promise<EnvelopeRunner> {
  const flights: Flights = new Map();
  const actors = startEnvelopeActors(provideEnvelopeMachine(flights, deps), flights, createSettlement(deps), deps);
  const loop = await startEnvelopeLoop(deps, flights, actors.run);
  let stopping: Promise<void> | undefined;
  return {
    inFlight: loop.inFlight,
    stop: () =>
      (stopping ??= (async () => {
        await loop.stop();
        actors.stop();
      })()),
  };
}
