/**
 * The contract of a batch handler: what it gets, what it returns, how a batch is gathered,
 * and the error for a result that does not fit. See `batch-handler.ts` for the public creator.
 */
import { MailroomError } from '../errors/mailroom-error.ts';
import type { HandlerContext, HandlerResult } from './handlers.ts';

/**
 * The result for one item of a batch, at the item's index:
 *
 * - what a single handler returns (a reply Body, `{ reply: { subject?, body } }`, or
 *   `undefined` for no reply);
 * - a `FinalError` (`new FinalError(message, reason)`): the envelope is discarded with that reason;
 * - any other `Error` (a `RetryableError` with `retryAfterMs`, say): that envelope's attempt
 *   fails and is retried per the subject's retry policy, alone, in a later batch.
 */
export type BatchItemResult = HandlerResult | Error;

/** What a batch handler is told about the batch as a whole. */
export interface BatchContext {
  readonly subject: string;
  /**
   * Aborted once no item of the batch is waited for any more: each has timed out
   * (`delivery.handlerTimeout`, counted from when the item joined the batch) or was handed back
   * at stop. Each item's own `signal` aborts for that item alone.
   */
  readonly signal: AbortSignal;
}

/**
 * Handles a batch of envelopes of one subject, in arrival order; returns one
 * {@link BatchItemResult} per item, in the same order. A thrown error (or rejection) fails
 * every item with it: each is retried per the retry policy (a `FinalError` discards them all).
 */
export type BatchHandler = (items: readonly HandlerContext[], batch: BatchContext) => readonly BatchItemResult[] | Promise<readonly BatchItemResult[]>;

/** How a batch is gathered. */
export interface BatchOptions {
  /** The most envelopes in one call (default 10): a batch this full is handed over at once. */
  readonly maxSize?: number;
  /** The longest the first envelope of a batch waits for more (ms, default 100). */
  readonly maxWaitMs?: number;
}

export const DEFAULT_BATCH_OPTIONS: Required<BatchOptions> = { maxSize: 10, maxWaitMs: 100 };

/** The options given, without the fields left undefined (so they do not hide a default). */
export function definedOf(options: BatchOptions | undefined): BatchOptions {
  return Object.fromEntries(Object.entries(options ?? {}).filter(([, v]) => v !== undefined)) as BatchOptions;
}

/**
 * A batch handler returned something other than one result per item: an array of another
 * length, or no array. Every item of the batch fails with it.
 *
 * - Thrown by the batch accumulator (`src/runtime/batch-accumulator.ts`).
 * - Retryable (reason `batch-result-mismatch`): the items are retried, and dead-lettered when
 *   their attempts run out.
 * - HTTP: none.
 */
export class BatchResultError extends MailroomError {
  readonly _tag = 'BatchResultError';
  readonly retryable = true;
  readonly reason = 'batch-result-mismatch';
  constructor(
    readonly subject: string,
    readonly expected: number,
    readonly got: number | undefined,
  ) {
    super(`the batch handler for ${subject} returned ${got === undefined ? 'no array' : `${got} results`} for ${expected} items`);
  }
}
