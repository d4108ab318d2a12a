/**
 * Riding out a JetStream leader election: a request tried again, with the shared retry
 * policy's backoff, while its error is transient and a deadline allows. Used by the inbox's
 * publish and by every store write on the envelope path (statuses, the replay guard, the
 * outbound records and the outbox publish). Only for writes that are idempotent when tried
 * again: a KV create or revision-checked update, or a publish with the same `Nats-Msg-Id`.
 */
import { apiErrorCode } from '../transport/jetstream-errors.ts';
import { backoffDelayMs, jittered, type RetrySchedule } from './retry-policy.ts';

/** The backoff between tries to store (the shared retry policy's schedule; each delay jittered). */
export const STORE_RETRY: RetrySchedule = { initialDelayMs: 50, maxDelayMs: 1_000, multiplier: 2 };

/**
 * True when a failed JetStream request may succeed if tried again soon: a timeout, no
 * responders (a stream without a leader during an election), a lost connection, or a
 * JetStream API error the server marks temporary (HTTP-like status 503). An API error with
 * another status (a limit, a refused message) is an answer: trying again changes nothing.
 */
export function isTransientStoreError(error: unknown): boolean {
  if (apiErrorCode(error) !== undefined) return (error as { status?: unknown }).status === 503;
  return !(error instanceof Error && (error.name === 'ClosedConnectionError' || error.name === 'DrainingConnectionError'));
}

/**
 * Runs `attempt` until it succeeds, fails for good ({@link isTransientStoreError} false) or
 * `deadline` (epoch ms) comes, with the shared retry policy's backoff between tries. Each
 * try gets the time left, at most `timeoutMs`. While the connection is down it waits for it
 * (at most `reconnectWaitMs` in a row) instead of trying. Resolves with the value, or with
 * the last error as `{ error }`; `tries` counts the tries made.
 */
export function retryWithinDeadline<T>(attempt: (timeoutMs: number) => Promise<T>, options: RetryOptions): Promise<RetryResult<T>> {
  return retryFrom(attempt, options, 0, undefined);
}

/** What {@link retryWithinDeadline} needs: the deadline (epoch ms), the wait for one answer, the connection. */
export interface RetryOptions {
  readonly deadline: number;
  readonly timeoutMs: number;
  readonly isConnected: () => boolean;
  readonly reconnectWaitMs: number;
  readonly now?: () => number;
}

/** The value of the try that succeeded, or the last error; `tries` counts the tries made. */
export type RetryResult<T> = { readonly ok: true; readonly value: T; readonly tries: number } | { readonly ok: false; readonly error: unknown; readonly tries: number };

/** {@link retryWithinDeadline}'s loop, from `tries` made so far (the last failing with `lastError`). */
async function retryFrom<T>(attempt: (timeoutMs: number) => Promise<T>, options: RetryOptions, tries: number, lastError: unknown): Promise<RetryResult<T>> {
  const now = options.now ?? Date.now;
  // `lastError` is made only when needed: an Error captures a stack, and the usual call succeeds at once.
  for (;;) {
    if (tries > 0) await sleepWithin(jittered(backoffDelayMs(STORE_RETRY, tries)), options.deadline, now);
    if (!options.isConnected()) {
      const gaveUp = Math.min(options.deadline, now() + options.reconnectWaitMs);
      while (!options.isConnected() && now() < gaveUp) await sleepWithin(25, options.deadline, now);
      if (!options.isConnected()) return { ok: false, error: new Error('the NATS connection is down'), tries };
    }
    const left = options.deadline - now();
    if (left <= 0) return { ok: false, error: lastError ?? new Error('the NATS connection is down'), tries };
    tries++;
    try {
      return { ok: true, value: await attempt(Math.min(options.timeoutMs, left)), tries };
    } catch (error) {
      lastError = error;
      if (!isTransientStoreError(error)) return { ok: false, error, tries };
    }
  }
}

/** Waits `ms`, but not past `deadline`. */
const sleepWithin = (ms: number, deadline: number, now: () => number): Promise<unknown> =>
  new Promise((resolve) => setTimeout(resolve, Math.max(0, Math.min(ms, deadline - now()))));

const alwaysConnected = (): boolean => true;

/** How a store retries: for how long, and how it knows the connection is down. */
export interface StoreRetry {
  /** How long one write may take, retries included (default {@link STORE_DEADLINE_MS}). */
  readonly deadlineMs?: number;
  /** The wait for one answer (default 5 s). */
  readonly timeoutMs?: number;
  readonly isConnected?: () => boolean;
  readonly reconnectWaitMs?: number;
}

/** The default of `StoreRetry.deadlineMs`: a JetStream leader election takes a few seconds (2.9: 2–5 s after the leader's last heartbeat). */
export const STORE_DEADLINE_MS = 10_000;

/**
 * `attempt` retried within `retry`'s deadline (from now); resolves with its value or rejects
 * with its last error, as the write itself would have.
 */
export async function withinDeadline<T>(attempt: (timeoutMs: number) => Promise<T>, retry: StoreRetry = {}): Promise<T> {
  const deadline = Date.now() + (retry.deadlineMs ?? STORE_DEADLINE_MS);
  const timeoutMs = retry.timeoutMs ?? 5_000;
  const isConnected = retry.isConnected ?? alwaysConnected;
  // The usual write: connected, and done at the first try; no retry state is made for it.
  let tries = 0;
  let lastError: unknown;
  const left = deadline - Date.now();
  if (left > 0 && isConnected()) {
    tries++;
    try {
      return await attempt(Math.min(timeoutMs, left));
    } catch (error) {
      if (!isTransientStoreError(error)) throw error;
      lastError = error;
    }
  }
  const result = await retryFrom(attempt, { deadline, timeoutMs, isConnected, reconnectWaitMs: retry.reconnectWaitMs ?? 1_000 }, tries, lastError);
  if (result.ok) return result.value;
  throw result.error;
}
