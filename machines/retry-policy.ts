/**
 * The one retry policy: exponential backoff, equal or full jitter, and attempts → retry or
 * dead-letter. Envelopes (the envelope machine, through `step-failure.ts`), the outbox,
 * workflow activities (whose retries are durable timers) and the workflow engine's
 * revision-conflict back-off all compute their delays here. Pure; it lives
 * in `machines/` because machines may import nothing else, and the runtime imports it as
 * `src/runtime/retry-policy.ts`.
 * @internal
 */

/** How delays grow: `initialDelayMs` before the second attempt, times `multiplier` each time after, at most `maxDelayMs`. */
export interface RetrySchedule {
  readonly initialDelayMs: number;
  readonly maxDelayMs: number;
  readonly multiplier: number;
}

/** A schedule and the attempts in all (the first included). */
export interface RetryPolicy extends RetrySchedule {
  readonly maxAttempts: number;
}

/** Why a failure is not retried: it said so (`retryable: false`), or its attempts ran out. */
export type DeadLetterReason = 'final-error' | 'max-attempts';

/** What to do after a failed attempt. */
export type RetryDecision = { readonly kind: 'retry'; readonly delayMs: number } | { readonly kind: 'dead-letter'; readonly reason: DeadLetterReason };

/**
 * The delay after failed attempt `attempt` (1-based): `min(maxDelayMs, initialDelayMs × multiplier^(attempt−1))`,
 * not rounded (callers that need whole milliseconds round, or jitter, which rounds).
 */
export function backoffDelayMs(schedule: RetrySchedule, attempt: number): number {
  return Math.min(schedule.maxDelayMs, schedule.initialDelayMs * schedule.multiplier ** Math.max(0, attempt - 1));
}

/** Equal jitter: a delay in [delay/2, delay], rounded, so a burst of failures does not come back as a burst. */
export function jittered(delayMs: number, random: () => number = Math.random): number {
  if (delayMs <= 0) return 0;
  return Math.round(delayMs / 2 + random() * (delayMs / 2));
}

/**
 * Full jitter: a delay anywhere in [0, delay), not rounded, for contention between writers
 * (two processes that lost the same revision check should not wake together). Not rounded
 * because it is for an in-process `setTimeout`, which takes fractions; a nak or a timer uses
 * {@link jittered} or the plain backoff.
 */
export function fullJitter(delayMs: number, random: () => number = Math.random): number {
  if (delayMs <= 0) return 0;
  return random() * delayMs;
}

/**
 * After failed attempt `attempt`: dead-letter a final failure at once, or one whose attempts
 * have run out; otherwise retry after the failure's own `retryAfterMs`, or the backoff.
 * The delay is not jittered: jitter is the caller's (a nak is jittered, a timer is not).
 */
export function nextAttempt(policy: RetryPolicy, attempt: number, failure: { readonly final: boolean; readonly retryAfterMs?: number | undefined }): RetryDecision {
  if (failure.final) return { kind: 'dead-letter', reason: 'final-error' };
  if (attempt >= policy.maxAttempts) return { kind: 'dead-letter', reason: 'max-attempts' };
  return { kind: 'retry', delayMs: failure.retryAfterMs ?? backoffDelayMs(policy, attempt) };
}
