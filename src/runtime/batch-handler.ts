/**
 * Batch handlers: one handler call for up to `maxSize` envelopes of a subject, or for what
 * arrived within `maxWait`, whichever comes first. Each envelope keeps its own actor, its own
 * retries and its own final state: the batch handler returns one result per item, and each
 * result settles its own envelope. See `batch-accumulator.ts` for how items are gathered.
 */
import type { Handler, HandlerContext } from './handlers.ts';
import { createBatchAccumulator } from './batch-accumulator.ts';
import { DEFAULT_BATCH_OPTIONS, definedOf, type BatchHandler, type BatchOptions } from './batch-types.ts';

const BATCH = Symbol.for('mailroom.batchHandler');

/** What {@link batchHandler} records on the handler it returns, for the handler registry. */
export interface BatchRegistration {
  readonly run: BatchHandler;
  readonly options: BatchOptions;
}

/** A {@link Handler} made by {@link batchHandler}. */
export type BatchedHandler = Handler & { readonly [BATCH]: BatchRegistration };

/**
 * Makes a batch handler registrable wherever a handler is (`mailroom.handle`, `handlers` of
 * `startMailroom`, a handlers module). Registered, each domain and subject gets its own batch;
 * `delivery.subjects.<subject>.batch` in the config, when present, wins over `options`.
 *
 * @example
 * ```ts
 * mailroom.handle('shop.example', 'Order@Shop', batchHandler(async (items) => {
 *   const saved = await db.insertMany(items.map((item) => item.body));
 *   return saved.map((row) => (row.ok ? { orderId: row.id } : new FinalError(row.error, 'invalid-order')));
 * }, { maxSize: 50, maxWaitMs: 200 }));
 * ```
 */
export function batchHandler(run: BatchHandler, options: BatchOptions = {}): BatchedHandler {
  let own: Handler | undefined;
  // Called directly (not through the registry): one batch of its own, with its own options.
  const handler = (context: HandlerContext) => (own ??= createBatchAccumulator(run, { subject: context.subject, ...DEFAULT_BATCH_OPTIONS, ...definedOf(options) }))(context);
  return Object.assign(handler, { [BATCH]: { run, options } });
}

/** The batch registration of a handler made by {@link batchHandler}, else undefined. */
export function batchRegistrationOf(handler: Handler): BatchRegistration | undefined {
  return (handler as Partial<BatchedHandler>)[BATCH];
}

