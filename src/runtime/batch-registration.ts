/**
 * Where batch handlers meet the config: {@link batchRegistrar} checks the config's batch subjects
 * at start, and turns every handler registered for a batch subject (a `batchHandler(...)`, or any
 * function registered for a subject with `delivery.subjects.<subject>.batch`) into the batch of
 * its domain and subject. The handler registry calls it for each registration.
 */
import type { MailroomConfig } from '../config/index.ts';
import { ConfigError } from '../errors.ts';
import { createBatchAccumulator } from './batch-accumulator.ts';
import { batchRegistrationOf } from './batch-handler.ts';
import { DEFAULT_BATCH_OPTIONS, definedOf, type BatchHandler } from './batch-types.ts';
import { handlerTimeoutFor } from './handler-timeout.ts';
import type { Handler } from './handlers.ts';

/** What a batch must fit in: the delivery settings that bound how many envelopes are in flight, and for how long. */
export type BatchLimits = Pick<MailroomConfig['delivery'], 'concurrency' | 'handlerTimeoutMs' | 'subjects' | 'ordering'>;

/** Prepares each registered handler: a batch subject's handler becomes its batch; any other is left as it is. */
export type PrepareHandler = (domain: string, subject: string, handler: Handler) => Handler;

/**
 * The handler registry's `prepare` for a config. Throws a {@link ConfigError} when a batch
 * subject of the config cannot work (see {@link checkBatch}); a handler registered later with
 * options that cannot work throws it from the registration.
 */
export function batchRegistrar(delivery: BatchLimits): PrepareHandler {
  for (const [subject, settings] of Object.entries(delivery.subjects)) {
    if (settings.batch) checkBatch(subject, { ...DEFAULT_BATCH_OPTIONS, ...settings.batch }, delivery);
  }
  return (_domain, subject, handler) => {
    const marked = batchRegistrationOf(handler);
    const configured = delivery.subjects[subject]?.batch;
    if (!marked && !configured) return handler;
    // A subject the config makes a batch subject: the function registered for it is a batch handler.
    const run = marked?.run ?? (handler as unknown as BatchHandler);
    const options = { ...DEFAULT_BATCH_OPTIONS, ...definedOf(marked?.options), ...definedOf(configured) };
    checkBatch(subject, options, delivery);
    return createBatchAccumulator(run, { subject, ...options });
  };
}

/**
 * A batch that cannot fill or cannot finish is refused: more items than may be in flight at
 * once (`delivery.concurrency`, the subject's `maxInFlight`, the ordered partitions), a wait as
 * long as the handler timeout (every item would time out first), or ordering by subject (one
 * envelope of a subject at a time: every batch would be one envelope, after the whole wait).
 */
export function checkBatch(subject: string, options: { readonly maxSize: number; readonly maxWaitMs: number }, delivery: BatchLimits): void {
  const path = `delivery.subjects.${subject}.batch`;
  const fail = (field: string, message: string): never => {
    throw new ConfigError(`batch handler for ${subject}: ${message}`, [{ path: `${path}.${field}`, message }]);
  };
  if (!Number.isInteger(options.maxSize) || options.maxSize < 1) fail('maxSize', `maxSize must be a whole number ≥ 1 (got ${options.maxSize})`);
  if (!Number.isFinite(options.maxWaitMs) || options.maxWaitMs < 1) fail('maxWait', `maxWait must be ≥ 1 ms (got ${options.maxWaitMs})`);
  if (options.maxSize > delivery.concurrency) fail('maxSize', `maxSize ${options.maxSize} is more than delivery.concurrency (${delivery.concurrency}): a batch could never fill`);
  const maxInFlight = delivery.subjects[subject]?.maxInFlight;
  if (maxInFlight !== undefined && options.maxSize > maxInFlight) fail('maxSize', `maxSize ${options.maxSize} is more than the subject's maxInFlight (${maxInFlight}): a batch could never fill`);
  const timeoutMs = handlerTimeoutFor(delivery, subject);
  if (options.maxWaitMs >= timeoutMs) fail('maxWait', `maxWait (${options.maxWaitMs} ms) must be shorter than the handler timeout (${timeoutMs} ms), which counts the wait`);
  if (delivery.ordering?.by === 'subject') fail('maxSize', 'delivery.ordering by subject handles one envelope of a subject at a time: a batch would never hold more than one');
  if (delivery.ordering && options.maxSize > delivery.ordering.partitions) {
    fail('maxSize', `maxSize ${options.maxSize} is more than delivery.ordering.partitions (${delivery.ordering.partitions}): ordered envelopes run one per partition, so a batch could never fill`);
  }
}
