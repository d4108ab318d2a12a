import type { EnvelopeActorInput, EnvelopeActorOutput } from '../../machines/envelope.machine.ts';
import type { DecodedEnvelope } from '../envelope/index.ts';
import { nak, settle, withJitter } from './disposition.ts';
import type { Flight } from './envelope-flight.ts';
import { continuesStoredHistory, mergeHistory } from './status-history.ts';
import type { EnvelopeStatus, StatusStep, StatusStore } from './status-store.ts';

/** What settling needs: where statuses go, who hears of them, the ack wait. */
export interface SettlementDeps {
  readonly status: StatusStore;
  readonly delivery: { readonly ackWaitMs: number };
  readonly onSettled?: (status: EnvelopeStatus, decoded: DecodedEnvelope | undefined) => void;
  /** Sends the final status to the callback URL the sender asked for (durably, through the outbox). */
  readonly callback?: (url: string, status: EnvelopeStatus) => Promise<void>;
}

/** How a runner settles its messages: after a finished actor, or when it could not finish. */
export interface Settlement {
  /** Writes the actor's status (unless answered before), sends the callback, then acks or naks the message. */
  finish(flight: Flight, input: EnvelopeActorInput, output: EnvelopeActorOutput): Promise<void>;
  /** Hands the message back for a later attempt (the actor failed, or settling it did). */
  giveBack(flight: Flight): void;
}

type Building<T> = { -readonly [K in keyof T]: T[K] };

/** The status an actor's output gives, before what only the flight knows (hash, body, verified). */
export function statusOf(input: EnvelopeActorInput, output: EnvelopeActorOutput, history: readonly StatusStep[]): EnvelopeStatus {
  return buildStatus(input, output, history);
}

/**
 * {@link statusOf}, open for the flight's fields to be added in place. Built field by field, in
 * the order the stored JSON has always had (one object per status, not one per optional field).
 */
function buildStatus(input: EnvelopeActorInput, output: EnvelopeActorOutput, history: readonly StatusStep[]): Building<EnvelopeStatus> {
  // `updatedAt` comes last but one: assigned below, after the optional fields.
  const status = {
    from: input.from,
    to: input.to,
    subject: input.subject,
    correlation: input.correlation,
    state: output.final,
    final: output.final !== 'retrying',
    attempt: input.attempt,
    history,
  } as Building<EnvelopeStatus>;
  if (output.discard) status.discard = output.discard;
  if (output.replyCorrelation && output.replySubject) {
    status.replyCorrelation = output.replyCorrelation;
    status.replySubject = output.replySubject;
  }
  if (output.deadLetter) status.deadLetter = output.deadLetter;
  if (output.disposition.kind === 'nak') status.retryDelayMs = output.disposition.delayMs;
  if (output.final === 'retrying' && output.error) status.error = output.error;
  status.updatedAt = new Date().toISOString();
  return status;
}

/**
 * Settles the messages of finished envelope actors: the status first (never over a status
 * it must not replace), then the sender's callback, then the ack or nak the output asks for.
 */
export function createSettlement(deps: SettlementDeps): Settlement {
  const statusFor = async (flight: Flight, input: EnvelopeActorInput, output: EnvelopeActorOutput): Promise<EnvelopeStatus> => {
    // The history to store: a replay or a retry continues the stored one (only they read it).
    const run = { attempt: input.attempt, replayedBy: flight.replayedBy };
    const previous = continuesStoredHistory(run) ? await deps.status.get(input.from, input.correlation).catch(() => undefined) : undefined;
    const history = mergeHistory(flight.history, run, previous);
    const envelope = flight.decoded.ok ? flight.decoded.value.envelope : undefined;
    const status = buildStatus(input, output, history);
    // Decided by validation from the stored conversation, never by subject.
    if (envelope !== undefined && flight.answer !== undefined && !output.discard) status.body = envelope.Body;
    if (envelope) status.hash = envelope.Hash;
    if (flight.validation?.holder) status.verified = true;
    if (flight.feedback !== undefined) status.feedback = flight.feedback;
    return status;
  };

  const write = async (flight: Flight, status: EnvelopeStatus): Promise<void> => {
    const validation = flight.validation;
    if (!validation?.holder) {
      // Unverified, or a different envelope reusing the correlation: never over the holder's status.
      await deps.status.putUnlessHeld(status);
    } else if (flight.replayedBy !== undefined) {
      // A replay starts over from a final status on purpose.
      await deps.status.put(status);
    } else if (validation.known || Date.now() - flight.startedAt > deps.delivery.ackWaitMs / 2) {
      // Seen before, or past the ack wait (JetStream may have redelivered the message to a newer
      // actor that has already finished): never over a final status, nor a later attempt's.
      await deps.status.putUnlessSuperseded(status);
    } else await deps.status.put(status);
  };

  return {
    finish: async (flight, input, output) => {
      if (flight.settledAs) {
        // Answered before: nothing to write, nothing to send; only the message is settled.
        settle(flight.msg, withJitter(output.disposition));
        return;
      }
      const status = await statusFor(flight, input, output);
      await write(flight, status);
      const callbackUrl = flight.callbackUrl;
      // Only for the verified envelope holding its correlation: an unverified one must not make this
      // runtime POST to a URL of its choosing (a reflector), whatever it claims to be.
      if (callbackUrl && status.final && status.verified) await deps.callback?.(callbackUrl, status);
      settle(flight.msg, withJitter(output.disposition));
      deps.onSettled?.(status, flight.decoded.ok ? flight.decoded.value : undefined);
    },
    giveBack: (flight) => settle(flight.msg, nak(1_000)),
  };
}
