/**
 * The contract between the envelope machine and the runtime that runs it: the input
 * (a zod schema), the context, the output, and the input/output of each named step.
 */
import { z } from 'zod';
import type { EnvelopeReason } from './envelope-reason.ts';

/**
 * The input of one envelope actor, built by the runtime from one delivered JetStream
 * message. The machine parses it again when the actor starts (a malformed input fails
 * the actor at once, with a `ZodError`).
 *
 * @example
 * ```ts
 * const input = EnvelopeActorInput.parse({
 *   messageId: String(msg.seq), from: 'orders.example', to: 'shop.example',
 *   subject: 'Order@Shop', correlation: '6f1c…', attempt: msg.info.deliveryCount,
 *   maxAttempts: 5, retry: { initialDelayMs: 1_000, maxDelayMs: 60_000, multiplier: 2 },
 *   receivedAt: Date.now(),
 * });
 * ```
 */
export const EnvelopeActorInput = z.object({
  /** The stream sequence of the JetStream message, as a string. */
  messageId: z.string().min(1),
  from: z.string().min(1),
  to: z.string().min(1),
  subject: z.string().min(1),
  correlation: z.string().min(1),
  /** 1-based delivery count (JetStream `redeliveryCount`). May exceed `maxAttempts`. */
  attempt: z.int().min(1),
  maxAttempts: z.int().min(1),
  retry: z
    .object({
      initialDelayMs: z.int().min(0),
      maxDelayMs: z.int().min(0),
      multiplier: z.number().min(1),
    })
    .refine((r) => r.maxDelayMs >= r.initialDelayMs, { message: 'maxDelayMs must be >= initialDelayMs', path: ['maxDelayMs'] }),
  /** Epoch milliseconds. */
  receivedAt: z.int().min(0),
});
export type EnvelopeActorInput = z.infer<typeof EnvelopeActorInput>;

/** Why and by whom an envelope was discarded. Validation discards carry an {@link EnvelopeReason}. */
export type EnvelopeDiscard =
  | { readonly source: 'validation'; readonly reason: EnvelopeReason; readonly detail: string; readonly field?: string }
  | { readonly source: 'handler'; readonly reason: string; readonly detail: string; readonly field?: string };

/** The last step that failed: its error message, the state it failed in, and its named reason if it had one. */
export interface EnvelopeFault {
  readonly message: string;
  readonly state: EnvelopeFaultState;
  /** The failure's `reason` (see {@link EnvelopeStepFailure}), e.g. `handler-timeout`. */
  readonly reason?: string;
}

/** The states whose step can fail. */
export type EnvelopeFaultState = 'validating' | 'handling' | 'replying' | 'discarded' | 'deadLettering';

/**
 * What the dead letter says. `max-attempts`: a transient fault on the last attempt;
 * `final-error`: a step failed with `retryable: false` (see {@link EnvelopeStepFailure}).
 */
export interface EnvelopeDeadLetter {
  readonly reason: 'max-attempts' | 'final-error';
  readonly lastState: EnvelopeFaultState;
  /** The named reason of the last failure, if it had one (e.g. `handler-timeout`). */
  readonly lastReason?: string;
  readonly detail: string;
}

/** A JSON value, as in an envelope's Body (a mirror of `JsonValue` in `src/envelope/types.ts`). */
export type EnvelopeJsonValue = null | boolean | number | string | EnvelopeJsonValue[] | { [key: string]: EnvelopeJsonValue };

/** An envelope's Body (the same type as `Envelope['Body']` in `src/envelope/types.ts`). */
export type EnvelopeBody = { [key: string]: EnvelopeJsonValue } | string;

/** The reply a handler produced: its subject, its Correlation (the request's) and its Body. */
export interface EnvelopeReply {
  readonly subject: string;
  readonly correlation: string;
  readonly body: EnvelopeBody;
}

/** The context: the input plus what the steps found out. JSON-serialisable; absent keys are left out, never `undefined`. */
export type EnvelopeActorContext = EnvelopeActorInput & {
  readonly discard?: EnvelopeDiscard;
  /** Set by `handle` when the handler produced a reply; `replying` sends it. */
  readonly reply?: EnvelopeReply;
  /** Set on the way to `retrying`: the nak delay. */
  readonly retryDelayMs?: number;
  readonly deadLetter?: EnvelopeDeadLetter;
  readonly error?: EnvelopeFault;
};

/** What the runtime does with the JetStream message. Only `retrying` naks. */
export type EnvelopeDisposition = { readonly kind: 'ack' } | { readonly kind: 'nak'; readonly delayMs: number };

/** The output of a finished envelope actor. `final` is the final state it stopped in. */
export interface EnvelopeActorOutput {
  readonly final: 'replied' | 'feedbackSent' | 'noFeedback' | 'retrying' | 'deadLettered';
  readonly disposition: EnvelopeDisposition;
  readonly discard?: EnvelopeDiscard;
  /** The reply's Correlation and subject, when the handler produced one (sent or not: see `final`). */
  readonly replyCorrelation?: string;
  readonly replySubject?: string;
  readonly deadLetter?: EnvelopeDeadLetter;
  readonly error?: EnvelopeFault;
}

/** Input of `validate` and `handle`. */
export interface EnvelopeStepInput {
  readonly messageId: string;
  readonly attempt: number;
}

/** Output of `validate`: an expected rejection is a value; a rejected promise is a fault. */
export type EnvelopeValidateOutput =
  | { readonly ok: true }
  | { readonly ok: false; readonly reason: EnvelopeReason; readonly detail: string; readonly field?: string };

/** Output of `handle`: the reply the handler produced, if any. Without one the envelope ends `replied` without `replying`. */
export interface EnvelopeHandleOutput {
  readonly reply?: EnvelopeReply;
}

/** Input of `reply`: the reply `handle` produced. */
export interface EnvelopeReplyInput extends EnvelopeStepInput {
  readonly reply: EnvelopeReply;
}

/** Input of `sendFeedback`. */
export interface EnvelopeFeedbackInput extends EnvelopeStepInput {
  readonly discard: EnvelopeDiscard;
}

/** Output of `sendFeedback`: `none` when the sender names no buffer domain or the envelope is itself feedback. */
export type EnvelopeFeedbackOutput = 'sent' | 'none';

/** Input of `deadLetter`. */
export interface EnvelopeDeadLetterInput extends EnvelopeStepInput {
  readonly deadLetter: EnvelopeDeadLetter;
}

/**
 * The fields the machine reads from a step's rejection (any `Error` subclass may carry
 * them; all are optional). Without `retryable: false` a rejection is transient.
 *
 * - `retryable: false` from `handle`: the envelope is discarded (`source: 'handler'`,
 *   `reason` or `'handler-failed'`, `detail` or the message, `field`).
 * - `retryable: false` from any other step: dead-lettered at once with `final-error`.
 * - `retryAfterMs`: the nak delay to use instead of the backoff (transient faults only).
 * - `reason` of a transient fault (e.g. `handler-timeout`): kept in the context's `error`
 *   and, when the attempts run out, in the dead letter's `lastReason`.
 */
export interface EnvelopeStepFailure {
  readonly message?: string;
  readonly retryable?: boolean;
  readonly retryAfterMs?: number;
  readonly reason?: string;
  readonly detail?: string;
  readonly field?: string;
}
