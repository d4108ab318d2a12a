/**
 * The retry policy as the runtime uses it: backoff, jitter and attempts → retry or
 * dead-letter (pure, in `machines/retry-policy.ts`, so that the envelope machine shares
 * it), and the nak a retry becomes.
 *
 * @example
 * ```ts
 * const decision = nextAttempt(policy, msg.info.deliveryCount, { final: !result.retryable });
 * if (decision.kind === 'retry') settle(msg, retryDisposition(decision));
 * else await deadLetters.publish(msg, { reason: decision.reason, ... });
 * ```
 */
import { jittered, type RetryDecision } from '../../machines/retry-policy.ts';
import { nak, type Disposition } from './disposition.ts';

export { backoffDelayMs, jittered, nextAttempt, type DeadLetterReason, type RetryDecision, type RetryPolicy, type RetrySchedule } from '../../machines/retry-policy.ts';

/** The nak of a retry, its delay jittered (equal jitter: within [delay/2, delay]). */
export function retryDisposition(decision: Extract<RetryDecision, { kind: 'retry' }>, random: () => number = Math.random): Disposition {
  return nak(jittered(decision.delayMs, random));
}
