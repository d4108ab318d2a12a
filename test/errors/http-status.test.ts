import { describe, expect, it } from 'vitest';
import {
  ActivityTimeoutError,
  ConfigError,
  CryptoPoolError,
  FinalError,
  HandlerTimeoutError,
  InvalidWorkflowInputError,
  MailroomError,
  RetryableError,
  TransportError,
  UnknownSubjectError,
  UnknownWorkflowError,
  WorkflowAlreadyExistsError,
  WorkflowNotFoundError,
  WorkflowNotRunningError,
  httpStatusOf,
  isKnownError,
} from '../../src/errors/index.ts';
import * as errorsBefore from '../../src/errors.ts';
import { RetryableError as HandlersRetryableError, FinalError as HandlersFinalError } from '../../src/runtime/handlers.ts';
import { HandlerTimeoutError as TimeoutAtOldPath } from '../../src/runtime/handler-timeout.ts';
import { CryptoPoolError as PoolErrorAtOldPath } from '../../src/runtime/crypto-pool.ts';
import { WorkflowNotFoundError as NotFoundAtOldPath } from '../../src/workflows/workflow-errors.ts';
import { readStepFailure } from '../../machines/step-failure.ts';

describe('httpStatusOf', () => {
  it('answers a caller’s mistake with its problem, as the HTTP routes do', () => {
    const table: [error: unknown, answer: ReturnType<typeof httpStatusOf>][] = [
      [new WorkflowNotFoundError('w-1'), { status: 404, error: 'not-found' }],
      [new WorkflowNotRunningError('w-1', 'done'), { status: 409, error: 'conflict' }],
      [new WorkflowAlreadyExistsError('w-1'), { status: 409, error: 'conflict' }],
      [new InvalidWorkflowInputError('no type'), { status: 400, error: 'bad-request' }],
      [new UnknownWorkflowError('order', []), { status: 400, error: 'bad-request' }],
      [new ConfigError('not local'), { status: 400, error: 'bad-request' }],
    ];
    for (const [error, answer] of table) expect(httpStatusOf(error), (error as Error).name).toEqual(answer);
  });

  it('leaves faults of the runtime, and anything not ours, to the 500 handler', () => {
    for (const error of [new TransportError('down'), new RetryableError('later'), new FinalError('no'), new ActivityTimeoutError('charge', 5), new CryptoPoolError('closed'), new Error('plain'), 'a string', undefined, { _tag: 'WorkflowNotFoundError' }]) {
      expect(httpStatusOf(error)).toBeUndefined();
    }
  });

  it('knows every tagged class in src/errors/', () => {
    const classes = (Object.values(errorsBefore) as unknown[]).filter((value): value is (new (...args: unknown[]) => MailroomError) & { name: string } => typeof value === 'function' && value.prototype instanceof MailroomError);
    expect(classes.length).toBeGreaterThanOrEqual(25);
    for (const Class of classes) {
      // `_tag` is an instance field; no constructor checks its arguments.
      const tag = new Class('x', [], 'z')._tag;
      expect(typeof tag, Class.name).toBe('string');
      expect(tag, Class.name).toBe(Class.name);
      expect(isKnownError(Object.assign(new Error('x'), { _tag: tag })), Class.name).toBe(true);
    }
  });
});

describe('the old paths re-export the same classes', () => {
  it('is one class each, wherever it is imported from', () => {
    expect(HandlersRetryableError).toBe(RetryableError);
    expect(HandlersFinalError).toBe(FinalError);
    expect(TimeoutAtOldPath).toBe(HandlerTimeoutError);
    expect(PoolErrorAtOldPath).toBe(CryptoPoolError);
    expect(NotFoundAtOldPath).toBe(WorkflowNotFoundError);
  });

  it('the tagged form of an unknown subject reads as the duck-typed error did', () => {
    const duck = Object.assign(new Error('no handler for Hello@Host'), { retryable: false, reason: 'unknown-subject' });
    expect(readStepFailure(new UnknownSubjectError('Hello@Host'))).toEqual(readStepFailure(duck));
  });

  it('CryptoPoolError is still an Error named CryptoPoolError', () => {
    const error = new CryptoPoolError('closed');
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe('CryptoPoolError');
    expect(error._tag).toBe('CryptoPoolError');
  });
});
