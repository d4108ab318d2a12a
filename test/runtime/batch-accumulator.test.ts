/**
 * The batch accumulator on its own (no NATS): how items gather and flush, how each item gets its
 * own result, and how signals work. Time is simulated (vitest's fake timers); the runtime
 * behaviour is in batch-handlers.test.ts and batch-kill.test.ts against a real nats-server.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createBatchAccumulator } from '../../src/runtime/batch-accumulator.ts';
import { batchHandler } from '../../src/runtime/batch-handler.ts';
import { batchRegistrar, checkBatch } from '../../src/runtime/batch-registration.ts';
import { BatchResultError, type BatchContext, type BatchHandler, type BatchItemResult } from '../../src/runtime/batch-types.ts';
import { FinalError, HandlerRegistry, RetryableError, type HandlerContext, type HandlerResult } from '../../src/runtime/handlers.ts';
import { callHandler } from '../../src/runtime/handler-timeout.ts';
import { ConfigError } from '../../src/errors.ts';
import type { Envelope } from '../../src/envelope/types.ts';

const itemOf = (correlation: string, signal = new AbortController().signal): HandlerContext => ({
  envelope: {} as Envelope,
  from: 'orders.example',
  verified: true,
  to: 'shop.example',
  subject: 'Order@Shop',
  correlation,
  body: { n: correlation },
  attempt: 1,
  signal,
});

/** A batch handler that records each call and answers from `answer`. */
function recorder(answer: (item: HandlerContext) => BatchItemResult = (item) => ({ echo: item.correlation })) {
  const calls: { items: readonly HandlerContext[]; batch: BatchContext }[] = [];
  const run: BatchHandler = (items, batch) => {
    calls.push({ items, batch });
    return items.map(answer);
  };
  return { calls, run, correlations: () => calls.map((c) => c.items.map((i) => i.correlation)) };
}

beforeEach(() => vi.useFakeTimers());
afterEach(() => vi.useRealTimers());

describe('createBatchAccumulator', () => {
  it('hands over a full batch at once, in arrival order, and gives each item its own result', async () => {
    const { run, correlations } = recorder();
    const handle = createBatchAccumulator(run, { subject: 'Order@Shop', maxSize: 3, maxWaitMs: 60_000 });
    const a = handle(itemOf('a'));
    const b = handle(itemOf('b'));
    expect(correlations()).toEqual([]);
    const c = handle(itemOf('c'));
    expect(await Promise.all([a, b, c])).toEqual([{ echo: 'a' }, { echo: 'b' }, { echo: 'c' }]);
    expect(correlations()).toEqual([['a', 'b', 'c']]);
  });

  it('hands over what arrived when the first item has waited maxWait, and then starts a new batch', async () => {
    const { run, correlations } = recorder();
    const handle = createBatchAccumulator(run, { subject: 'Order@Shop', maxSize: 10, maxWaitMs: 100 });
    const a = handle(itemOf('a'));
    vi.advanceTimersByTime(60);
    const b = handle(itemOf('b'));
    vi.advanceTimersByTime(39);
    expect(correlations()).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(await Promise.all([a, b])).toEqual([{ echo: 'a' }, { echo: 'b' }]);
    const c = handle(itemOf('c'));
    vi.advanceTimersByTime(100);
    await c;
    expect(correlations()).toEqual([['a', 'b'], ['c']]);
  });

  it('settles each item by its result: a reply, no reply, a FinalError, a retryable error', async () => {
    const discard = new FinalError('out of stock', 'out-of-stock');
    const later = new RetryableError('try later', 500);
    const answers: Record<string, BatchItemResult> = { a: { reply: { subject: 'Done@Shop', body: { ok: 1 } } }, b: undefined, c: discard, d: later };
    const { run } = recorder((item) => answers[item.correlation]);
    const handle = createBatchAccumulator(run, { subject: 'Order@Shop', maxSize: 4, maxWaitMs: 60_000 });
    const results = await Promise.allSettled(['a', 'b', 'c', 'd'].map((c) => handle(itemOf(c))));
    expect(results).toEqual([
      { status: 'fulfilled', value: { reply: { subject: 'Done@Shop', body: { ok: 1 } } } },
      { status: 'fulfilled', value: undefined },
      { status: 'rejected', reason: discard },
      { status: 'rejected', reason: later },
    ]);
  });

  it('fails every item with what the batch handler throws, synchronously or not', async () => {
    const boom = new Error('db down');
    for (const run of [
      (() => {
        throw boom;
      }) satisfies BatchHandler,
      (() => Promise.reject(boom)) satisfies BatchHandler,
    ]) {
      const handle = createBatchAccumulator(run, { subject: 'Order@Shop', maxSize: 2, maxWaitMs: 60_000 });
      const results = await Promise.allSettled([handle(itemOf('a')), handle(itemOf('b'))]);
      expect(results).toEqual([
        { status: 'rejected', reason: boom },
        { status: 'rejected', reason: boom },
      ]);
    }
  });

  it('fails every item with a BatchResultError when the results do not match the items', async () => {
    for (const wrong of [[{ only: 'one' }], undefined, 'text']) {
      const handle = createBatchAccumulator(() => wrong as never, { subject: 'Order@Shop', maxSize: 2, maxWaitMs: 60_000 });
      const results = await Promise.allSettled([handle(itemOf('a')), handle(itemOf('b'))]);
      for (const result of results) {
        expect(result.status).toBe('rejected');
        const reason = (result as PromiseRejectedResult).reason as BatchResultError;
        expect(reason).toBeInstanceOf(BatchResultError);
        expect(reason).toMatchObject({ retryable: true, reason: 'batch-result-mismatch', expected: 2 });
      }
    }
  });

  it('drops an item given up on while it waits: the batch handler never sees it', async () => {
    const { run, correlations } = recorder();
    const handle = createBatchAccumulator(run, { subject: 'Order@Shop', maxSize: 10, maxWaitMs: 100 });
    const gone = new AbortController();
    const a = handle(itemOf('a', gone.signal));
    const b = handle(itemOf('b'));
    gone.abort(new Error('timed out'));
    await expect(a).rejects.toThrow('timed out');
    vi.advanceTimersByTime(100);
    expect(await b).toEqual({ echo: 'b' });
    expect(correlations()).toEqual([['b']]);

    // The only item gone: no empty batch is run.
    const alone = new AbortController();
    const c = handle(itemOf('c', alone.signal));
    alone.abort(new Error('stopped'));
    await expect(c).rejects.toThrow('stopped');
    vi.advanceTimersByTime(1_000);
    expect(correlations()).toEqual([['b']]);
  });

  it("aborts the batch's signal once every item of it was given up on, not before", async () => {
    let batchSignal: AbortSignal | undefined;
    const handle = createBatchAccumulator(
      (items, batch) => {
        batchSignal = batch.signal;
        return new Promise<never>(() => undefined);
      },
      { subject: 'Order@Shop', maxSize: 2, maxWaitMs: 60_000 },
    );
    const first = new AbortController();
    const second = new AbortController();
    void handle(itemOf('a', first.signal)).catch(() => undefined);
    void handle(itemOf('b', second.signal)).catch(() => undefined);
    expect(batchSignal?.aborted).toBe(false);
    first.abort(new Error('a timed out'));
    expect(batchSignal?.aborted).toBe(false);
    const reason = new Error('b timed out');
    second.abort(reason);
    expect(batchSignal?.aborted).toBe(true);
    expect(batchSignal?.reason).toBe(reason);
  });

  it('under callHandler: an item past its handler timeout fails alone; the late batch result is ignored for it', async () => {
    let finish: ((results: BatchItemResult[]) => void) | undefined;
    const handle = createBatchAccumulator(() => new Promise((resolve) => (finish = resolve)), { subject: 'Order@Shop', maxSize: 2, maxWaitMs: 50 });
    const { signal: _unused, ...context } = itemOf('a');
    const call = callHandler(handle, context, { timeoutMs: 1_000 });
    const caught = call.catch((error: unknown) => error);
    vi.advanceTimersByTime(50);
    expect(finish).toBeDefined();
    vi.advanceTimersByTime(950);
    expect(await caught).toMatchObject({ reason: 'handler-timeout' });
    finish?.([{ late: true }]);
    await expect(call).rejects.toMatchObject({ reason: 'handler-timeout' });
  });
});

describe('batchHandler and the registry', () => {
  const delivery = { concurrency: 64, handlerTimeoutMs: 30_000, subjects: {} };

  it('called directly, a batchHandler batches with its own options', async () => {
    const { run, correlations } = recorder();
    const handler = batchHandler(run, { maxSize: 2, maxWaitMs: 60_000 });
    const results = await Promise.all([handler(itemOf('a')), handler(itemOf('b'))]);
    expect(results).toEqual([{ echo: 'a' }, { echo: 'b' }]);
    expect(correlations()).toEqual([['a', 'b']]);
  });

  it('registered, each domain gets its own batch; a plain handler is left as it is', async () => {
    const { run, correlations } = recorder();
    const registry = new HandlerRegistry({ prepare: batchRegistrar(delivery) });
    const batched = batchHandler(run, { maxSize: 2, maxWaitMs: 10_000 });
    registry.register('shop.example', 'Order@Shop', batched);
    registry.register('other.example', 'Order@Shop', batched);
    const plain = (): HandlerResult => ({ plain: true });
    registry.register('shop.example', 'Hello@Shop', plain);
    expect(registry.get('shop.example', 'Hello@Shop')).toBe(plain);
    const shop = registry.get('shop.example', 'Order@Shop')!;
    const other = registry.get('other.example', 'Order@Shop')!;
    const pending = [shop(itemOf('s1')), other(itemOf('o1'))];
    expect(correlations()).toEqual([]);
    pending.push(shop(itemOf('s2')), other(itemOf('o2')));
    await Promise.all(pending);
    expect(correlations()).toEqual([
      ['s1', 's2'],
      ['o1', 'o2'],
    ]);
  });

  it("a subject with batch in the config: its plain function is the batch handler, and the config's options win over the code's", async () => {
    const { run, correlations } = recorder();
    const registry = new HandlerRegistry({ prepare: batchRegistrar({ ...delivery, subjects: { 'Order@Shop': { batch: { maxSize: 2 } } } }) });
    registry.register('shop.example', 'Order@Shop', run as never);
    const handle = registry.get('shop.example', 'Order@Shop')!;
    await Promise.all([handle(itemOf('a')), handle(itemOf('b'))]);
    registry.register('shop.example', 'Order@Shop', batchHandler(run, { maxSize: 5, maxWaitMs: 10_000 }));
    const tuned = registry.get('shop.example', 'Order@Shop')!;
    await Promise.all([tuned(itemOf('c')), tuned(itemOf('d'))]);
    expect(correlations()).toEqual([
      ['a', 'b'],
      ['c', 'd'],
    ]);
  });

  it('refuses a batch that could never fill or finish, with a ConfigError naming the field', () => {
    const refused = (options: { maxSize: number; maxWaitMs: number }, limits: Parameters<typeof checkBatch>[2] = delivery) => {
      try {
        checkBatch('Order@Shop', options, limits);
      } catch (error) {
        expect(error).toBeInstanceOf(ConfigError);
        return (error as ConfigError).issues[0]?.path;
      }
      return undefined;
    };
    expect(refused({ maxSize: 10, maxWaitMs: 100 })).toBeUndefined();
    expect(refused({ maxSize: 65, maxWaitMs: 100 })).toBe('delivery.subjects.Order@Shop.batch.maxSize');
    expect(refused({ maxSize: 10, maxWaitMs: 100 }, { ...delivery, subjects: { 'Order@Shop': { maxInFlight: 4 } } })).toBe('delivery.subjects.Order@Shop.batch.maxSize');
    expect(refused({ maxSize: 10, maxWaitMs: 30_000 })).toBe('delivery.subjects.Order@Shop.batch.maxWait');
    expect(refused({ maxSize: 10, maxWaitMs: 100 }, { ...delivery, ordering: { by: 'subject', partitions: 4 } })).toBe('delivery.subjects.Order@Shop.batch.maxSize');
    expect(refused({ maxSize: 10, maxWaitMs: 100 }, { ...delivery, ordering: { by: 'sender', partitions: 4 } })).toBe('delivery.subjects.Order@Shop.batch.maxSize');
    expect(refused({ maxSize: 4, maxWaitMs: 100 }, { ...delivery, ordering: { by: 'sender', partitions: 4 } })).toBeUndefined();
    expect(refused({ maxSize: 0, maxWaitMs: 100 })).toBe('delivery.subjects.Order@Shop.batch.maxSize');
    // At start, for the config's batch subjects; at registration, for the code's options.
    expect(() => batchRegistrar({ ...delivery, subjects: { 'Order@Shop': { batch: { maxWaitMs: 60_000 } } } })).toThrow(ConfigError);
    const registry = new HandlerRegistry({ prepare: batchRegistrar(delivery) });
    expect(() => registry.register('shop.example', 'Order@Shop', batchHandler(recorder().run, { maxSize: 500 }))).toThrow(/delivery\.concurrency/);
  });
});
