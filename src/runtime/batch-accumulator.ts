/**
 * The batch of one domain's subject, as a plain handler: each envelope actor's handling
 * step calls it with its own item and awaits its own result, so the envelope machine and its
 * steps know nothing of batches. Items gather until `maxSize` are there (handed over at once) or
 * the first has waited `maxWaitMs`; then the batch handler runs once for all of them, while the
 * next batch gathers.
 */
import type { HandlerContext, HandlerResult } from './handlers.ts';
import { BatchResultError, type BatchHandler } from './batch-types.ts';

interface Item {
  readonly context: HandlerContext;
  readonly resolve: (result: HandlerResult) => void;
  readonly reject: (error: unknown) => void;
}

/** One batch per call of {@link createBatchAccumulator}; `subject` names it in errors. */
export interface BatchAccumulatorOptions {
  readonly subject: string;
  readonly maxSize: number;
  readonly maxWaitMs: number;
}

/** A {@link Handler} that always answers with a promise: the item's own result, once its batch ran. */
export type BatchItemHandler = (context: HandlerContext) => Promise<HandlerResult>;

export function createBatchAccumulator(run: BatchHandler, options: BatchAccumulatorOptions): BatchItemHandler {
  let gathering: Item[] = [];
  let timer: ReturnType<typeof setTimeout> | undefined;
  const flush = (): void => {
    clearTimeout(timer);
    timer = undefined;
    const batch = gathering;
    gathering = [];
    if (batch.length > 0) runBatch(run, batch, options.subject);
  };
  return (context) =>
    new Promise<HandlerResult>((resolve, reject) => {
      const { signal } = context;
      if (signal.aborted) return reject(signal.reason);
      const item: Item = { context, resolve, reject };
      // Given up on while it waits (timed out, or handed back at stop): it leaves the batch unseen.
      signal.addEventListener(
        'abort',
        () => {
          const at = gathering.indexOf(item);
          if (at < 0) return;
          gathering.splice(at, 1);
          if (gathering.length === 0) {
            clearTimeout(timer);
            timer = undefined;
          }
          reject(signal.reason);
        },
        { once: true },
      );
      gathering.push(item);
      if (gathering.length >= options.maxSize) flush();
      else timer ??= setTimeout(flush, options.maxWaitMs);
    });
}

/** Calls the batch handler once for `items` and settles each item with its own result. */
function runBatch(run: BatchHandler, items: readonly Item[], subject: string): void {
  const controller = new AbortController();
  let given = 0;
  const cleanups = items.map(({ context: { signal } }) => {
    const onAbort = (): void => {
      if (++given === items.length) controller.abort(signal.reason);
    };
    signal.addEventListener('abort', onAbort, { once: true });
    return () => signal.removeEventListener('abort', onAbort);
  });
  const done = (): void => cleanups.forEach((cleanup) => cleanup());
  // A batch handler that throws before its first await fails the same way as one that rejects.
  new Promise<readonly unknown[]>((resolve) => resolve(run(items.map((item) => item.context), { subject, signal: controller.signal }))).then(
    (results) => {
      done();
      if (!Array.isArray(results) || results.length !== items.length) {
        const error = new BatchResultError(subject, items.length, Array.isArray(results) ? results.length : undefined);
        for (const item of items) item.reject(error);
        return;
      }
      items.forEach((item, i) => {
        const result = results[i] as unknown;
        if (result instanceof Error) item.reject(result);
        else item.resolve(result as HandlerResult);
      });
    },
    (error: unknown) => {
      done();
      for (const item of items) item.reject(error);
    },
  );
}
