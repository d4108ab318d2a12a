import {
  envelopeMachineFromValidating,
  envelopeStepActions,
  type EnvelopeSteps,
  type EnvelopeDeadLetterInput,
  type EnvelopeFeedbackInput,
  type EnvelopeFeedbackOutput,
  type EnvelopeHandleOutput,
  type EnvelopeReplyInput,
  type EnvelopeStepInput,
  type EnvelopeValidateOutput,
} from '../../machines/envelope.machine.ts';
import type { Envelope } from '../envelope/types.ts';
import { MissingSigningKeyError, UnknownSubjectError } from '../errors/handler-errors.ts';
import type { DeadLetters } from './dead-letters.ts';
import type { Flight, Flights } from './envelope-flight.ts';
import type { FeedbackLimiter } from './feedback-limiter.ts';
import { callHandler, handlerTimeoutFor } from './handler-timeout.ts';
import { FEEDBACK_SUBJECT, replyOf, type HandlerRegistry } from './handlers.ts';
import { humanReason, type DomainIdentity, type Outbound, type PublishOptions } from './outbound.ts';
import { withStep } from './status-history.ts';
import type { StatusStore } from './status-store.ts';
import { validateEnvelope, type Validation, type ValidatorDeps } from './validator.ts';
import type { BufferLookup } from './manifests.ts';
import { isUnproven } from './public-envelopes.ts';

/** What the steps need: how to validate, whom to call, how to send. */
export interface EnvelopeStepDeps {
  readonly validator: ValidatorDeps;
  readonly handlers: HandlerRegistry;
  readonly identities: ReadonlyMap<string, DomainIdentity>;
  /** The sender's buffer domain (config, then its manifest), or why there is none. */
  readonly bufferOf: (sender: string, options?: { readonly fetch?: boolean }) => Promise<BufferLookup>;
  /** Feedback per claimed sender; over the limit an envelope ends `noFeedback`. */
  readonly feedbackLimiter?: FeedbackLimiter;
  readonly outbound: Outbound;
  readonly status: StatusStore;
  readonly deadLetters: DeadLetters;
  readonly delivery: {
    /** The longest a handler may run (default 30 s): then the attempt fails as retryable, `handler-timeout`. */
    readonly handlerTimeoutMs?: number;
    /** Per-subject handler timeouts. */
    readonly subjects?: Readonly<Record<string, { readonly handlerTimeoutMs?: number }>>;
  };
  /** Answers to this runtime's own requests: a reply, or feedback about a discarded request. */
  readonly answers?: {
    /** Whether the envelope answers a stored conversation (one KV get); see `Requests.isAnswer`. */
    isAnswer(envelope: Envelope): Promise<boolean>;
    reply(envelope: Envelope): Promise<void>;
    feedback(envelope: Envelope): Promise<void>;
  };
}

/**
 * Whether a validated envelope is an answer to one of our requests, set on the flight. Asked of
 * every verified envelope that holds its correlation and is not refused otherwise (one KV get
 * each): a pending conversation wins over a handler for the same subject. The validator's
 * unknown-subject is lifted for an answer; Feedback@Buffer, which the validator lets through
 * whatever its handlers, is refused the same way when it answers nothing and has no handler.
 */
async function classify(f: Flight, validation: Validation, deps: EnvelopeStepDeps): Promise<EnvelopeValidateOutput | undefined> {
  if (!f.decoded.ok || !validation.verified || !validation.holder) return undefined;
  const { result } = validation;
  if (!result.ok && result.error.reason !== 'unknown-subject') return undefined;
  const envelope = f.decoded.value.envelope;
  const { Header } = envelope;
  const isFeedback = Header.Subject === FEEDBACK_SUBJECT;
  if (deps.answers && (await deps.answers.isAnswer(envelope))) {
    f.answer = isFeedback ? 'feedback' : 'reply';
    return { ok: true };
  }
  if (isFeedback && !deps.handlers.get(Header.To, Header.Subject)) return { ok: false, reason: 'unknown-subject', detail: `${Header.To} has no handler for ${Header.Subject}` };
  return undefined;
}

/** A rerun may find its outbound envelope recorded already: read the record before signing then. */
function publishOptions(flight: Flight, attempt: number): PublishOptions {
  const mayExist = attempt > 1 || flight.validation?.known === true || flight.replayedBy !== undefined;
  return { mayExist, ...(flight.trace ? { trace: flight.trace } : {}) };
}

/**
 * The runtime's envelope steps: each finds its message in `flights` by the actor's
 * `messageId` and returns what the machine needs to choose its next state. A step throws
 * (rejects) for a fault; `retryable: false` on the error makes it final (see
 * `EnvelopeStepFailure` in `machines/envelope.types.ts`): {@link UnknownSubjectError} and
 * {@link MissingSigningKeyError} are the runtime's own final faults.
 */
export function createEnvelopeSteps(flights: Flights, deps: EnvelopeStepDeps): EnvelopeSteps {
  const flight = (id: string): Flight => {
    const found = flights.get(id);
    if (!found) throw new Error(`no message in flight with id ${id}`);
    return found;
  };
  const envelopeOf = (f: Flight, id: string): Envelope => {
    if (!f.decoded.ok) throw new Error(`message ${id} did not decode`);
    return f.decoded.value.envelope;
  };
  return {
    validate: async (input: EnvelopeStepInput): Promise<EnvelopeValidateOutput> => {
      const f = flight(input.messageId);
      const validation = await validateEnvelope(f.decoded, deps.validator, { replayed: f.replayedBy !== undefined });
      f.validation = validation;
      if (validation.known && f.replayedBy === undefined && f.decoded.ok) {
        // This very envelope was seen before: if it already has its final status, only settle it.
        const { Header, Hash } = f.decoded.value.envelope;
        const previous = await deps.status.get(Header.From, Header.Correlation);
        if (previous?.final && previous.verified && previous.hash === Hash) {
          f.settledAs = previous;
          return { ok: true };
        }
      }
      const answer = await classify(f, validation, deps);
      if (answer) return answer;
      const { result } = validation;
      if (result.ok) return { ok: true };
      const { reason, detail, field } = result.error;
      return field === undefined ? { ok: false, reason, detail } : { ok: false, reason, detail, field };
    },
    handle: async (input: EnvelopeStepInput): Promise<EnvelopeHandleOutput> => {
      const f = flight(input.messageId);
      const envelope = envelopeOf(f, input.messageId);
      const { Header } = envelope;
      // Answered before: nothing to run, nothing to send again.
      if (f.settledAs) return {};
      if (f.answer === 'feedback') await deps.answers?.feedback(envelope);
      else if (f.answer === 'reply') await deps.answers?.reply(envelope);
      else {
        const handler = deps.handlers.get(Header.To, Header.Subject);
        if (!handler) throw new UnknownSubjectError(Header.Subject);
        const verified = f.validation?.verified === true;
        const context = { envelope, from: Header.From, to: Header.To, subject: Header.Subject, correlation: Header.Correlation, body: envelope.Body, attempt: input.attempt, verified };
        const result = await callHandler(handler, context, { timeoutMs: handlerTimeoutFor(deps.delivery, Header.Subject), stop: f.stop });
        // An unverified (public) envelope is never answered with a signed reply to the sender it claims.
        const reply = verified ? replyOf(result, Header.Subject) : undefined;
        if (reply) return { reply: { subject: reply.subject, correlation: Header.Correlation, body: reply.body } };
      }
      return {};
    },
    reply: async (input: EnvelopeReplyInput): Promise<void> => {
      const f = flight(input.messageId);
      const { Header } = envelopeOf(f, input.messageId);
      const identity = deps.identities.get(Header.To);
      if (!identity) throw new MissingSigningKeyError(Header.To);
      await deps.outbound.reply(identity, Header, input.reply.subject, input.reply.body, publishOptions(f, input.attempt));
    },
    sendFeedback: async (input: EnvelopeFeedbackInput): Promise<EnvelopeFeedbackOutput> => {
      const f = flight(input.messageId);
      const decoded = f.decoded;
      if (!decoded.ok || f.settledAs) return 'none';
      const { Header, Hash } = decoded.value.envelope;
      // Loop guard: never feedback about feedback.
      if (Header.Subject === FEEDBACK_SUBJECT) return 'none';
      const identity = deps.identities.get(Header.To);
      if (!identity) return 'none';
      // An unsigned, Anonymous or wallet envelope names no sender it could prove: no feedback to anyone.
      if (isUnproven(decoded.value.envelope)) {
        f.feedback = 'feedback: none, the envelope is unsigned or from Anonymous/a wallet (sender unproven)';
        return 'none';
      }
      // Only a sender whose signature verified may cost a manifest fetch: a forged envelope
      // claiming any domain must not make this runtime send requests there.
      const lookup = await deps.bufferOf(Header.From, { fetch: f.validation?.verified === true });
      f.feedback = lookup.note;
      const buffer = lookup.buffer;
      if (!buffer) return 'none';
      if (deps.feedbackLimiter && !deps.feedbackLimiter.allow(Header.From)) return 'none';
      await deps.outbound.feedback(identity, buffer, { From: Header.From, Correlation: Header.Correlation, Hash }, humanReason(input.discard.reason, input.discard.detail), publishOptions(f, input.attempt));
      return 'sent';
    },
    deadLetter: async (input: EnvelopeDeadLetterInput): Promise<void> => {
      const f = flight(input.messageId);
      // The actor is entering deadLettering as this runs; the record's history ends there.
      const history = withStep(f.history, 'deadLettering', new Date().toISOString());
      await deps.deadLetters.publish(f.msg, input.deadLetter, history);
    },
  };
}

/** The envelope machine with the runtime's steps supplied. */
export function provideEnvelopeMachine(flights: Flights, deps: EnvelopeStepDeps) {
  return envelopeMachineFromValidating.provide({ actions: envelopeStepActions(createEnvelopeSteps(flights, deps)) });
}
