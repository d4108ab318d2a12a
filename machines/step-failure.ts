/**
 * Reading a step's rejection and turning it into a retry delay. Pure functions; the
 * envelope machine's guards and actions are built on them.
 * @internal
 */
import type { EnvelopeActorInput, EnvelopeStepFailure } from './envelope.types.ts';
import { backoffDelayMs as scheduleDelayMs, nextAttempt, type RetryDecision } from './retry-policy.ts';

/** A rejection, normalised: the reason of a rejected promise can be anything. */
export interface StepFailure {
  readonly message: string;
  /** `retryable: false` was set: retrying cannot help. */
  readonly final: boolean;
  readonly retryAfterMs?: number;
  readonly reason?: string;
  readonly detail?: string;
  readonly field?: string;
}

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null;
const stringOrUndefined = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);

/** Reads the {@link EnvelopeStepFailure} fields of whatever a step rejected with. */
export function readStepFailure(error: unknown): StepFailure {
  if (!isRecord(error)) return { message: String(error), final: false };
  const fields: { [K in keyof EnvelopeStepFailure]: unknown } = error;
  const retryAfterMs = fields.retryAfterMs;
  return dropUndefined({
    message: stringOrUndefined(fields.message) ?? describe(error),
    final: fields.retryable === false,
    retryAfterMs: typeof retryAfterMs === 'number' && Number.isFinite(retryAfterMs) && retryAfterMs >= 0 ? Math.round(retryAfterMs) : undefined,
    reason: stringOrUndefined(fields.reason),
    detail: stringOrUndefined(fields.detail),
    field: stringOrUndefined(fields.field),
  });
}

/**
 * The nak delay before the next attempt: the retry policy's backoff
 * (`min(maxDelayMs, initialDelayMs × multiplier^(attempt−1))`), rounded to whole
 * milliseconds. Jitter is the runtime's job.
 */
export function backoffDelayMs(retry: EnvelopeActorInput['retry'], attempt: number): number {
  return Math.round(scheduleDelayMs(retry, attempt));
}

/**
 * What follows a step that failed on attempt `attempt`: the shared retry policy's
 * {@link nextAttempt} (final → `final-error`, attempts used up → `max-attempts`, else retry
 * after the failure's `retryAfterMs` or the backoff), the delay rounded to whole milliseconds.
 */
export function faultDecision(envelope: Pick<EnvelopeActorInput, 'attempt' | 'maxAttempts' | 'retry'>, failure: StepFailure): RetryDecision {
  const decision = nextAttempt({ ...envelope.retry, maxAttempts: envelope.maxAttempts }, envelope.attempt, failure);
  return decision.kind === 'retry' ? { kind: 'retry', delayMs: Math.round(decision.delayMs) } : decision;
}

/** Leaves out `undefined` values, so objects stay equal after a JSON round trip. */
export function dropUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

function describe(error: object): string {
  try {
    return JSON.stringify(error) ?? String(error);
  } catch {
    return String(error);
  }
}
