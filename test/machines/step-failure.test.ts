import { describe, expect, it } from 'vitest';
import { backoffDelayMs, faultDecision, readStepFailure } from '../../machines/step-failure.ts';
import { MissingSigningKeyError, UnknownSubjectError } from '../../src/errors/handler-errors.ts';

describe('backoffDelayMs', () => {
  const retry = { initialDelayMs: 500, maxDelayMs: 10_000, multiplier: 2 };
  it('starts at initialDelayMs and multiplies per attempt', () => {
    expect([1, 2, 3, 4].map((attempt) => backoffDelayMs(retry, attempt))).toEqual([500, 1_000, 2_000, 4_000]);
  });
  it('caps at maxDelayMs, also when the power overflows', () => {
    expect(backoffDelayMs(retry, 6)).toBe(10_000);
    expect(backoffDelayMs({ ...retry, multiplier: 1_000 }, 500)).toBe(10_000);
  });
  it('rounds to whole milliseconds', () => {
    expect(backoffDelayMs({ initialDelayMs: 100, maxDelayMs: 1_000, multiplier: 1.5 }, 3)).toBe(225);
    expect(backoffDelayMs({ initialDelayMs: 3, maxDelayMs: 1_000, multiplier: 1.5 }, 2)).toBe(5);
  });
});

describe('readStepFailure', () => {
  it('reads the fields of an error object', () => {
    const error = Object.assign(new Error('busy'), { retryable: true, retryAfterMs: 1_200.4, reason: 'r', detail: 'd', field: 'f' });
    expect(readStepFailure(error)).toStrictEqual({ message: 'busy', final: false, retryAfterMs: 1_200, reason: 'r', detail: 'd', field: 'f' });
  });
  it('is final only with retryable: false', () => {
    expect(readStepFailure({ message: 'x', retryable: false }).final).toBe(true);
    expect(readStepFailure({ message: 'x' }).final).toBe(false);
    expect(readStepFailure({ message: 'x', retryable: 'no' }).final).toBe(false);
  });
  it('ignores a retryAfterMs that is not a finite, non-negative number', () => {
    for (const retryAfterMs of [-1, Number.NaN, Number.POSITIVE_INFINITY, '100']) {
      expect(readStepFailure({ message: 'x', retryAfterMs })).toStrictEqual({ message: 'x', final: false });
    }
  });
  it('describes values that are not errors', () => {
    expect(readStepFailure('timeout').message).toBe('timeout');
    expect(readStepFailure(undefined).message).toBe('undefined');
    expect(readStepFailure({ code: 'ECONNRESET' }).message).toBe('{"code":"ECONNRESET"}');
  });
  it("reads the runtime's tagged final faults as the duck-typed errors they replaced", () => {
    const duckSubject = Object.assign(new Error('no handler for Hello@Host'), { retryable: false, reason: 'unknown-subject' });
    const duckKey = Object.assign(new Error('no signing key for shop.example'), { retryable: false });
    expect(readStepFailure(new UnknownSubjectError('Hello@Host'))).toStrictEqual(readStepFailure(duckSubject));
    expect(readStepFailure(new MissingSigningKeyError('shop.example'))).toStrictEqual(readStepFailure(duckKey));
    expect(readStepFailure(new UnknownSubjectError('Hello@Host'))).toStrictEqual({ message: 'no handler for Hello@Host', final: true, reason: 'unknown-subject' });
  });
});

describe('faultDecision', () => {
  const envelope = { attempt: 1, maxAttempts: 3, retry: { initialDelayMs: 100, maxDelayMs: 1_000, multiplier: 1.5 } };
  it.each([
    ['a final failure, attempts left', { attempt: 1 }, { final: true }, { kind: 'dead-letter', reason: 'final-error' }],
    ['a final failure on the last attempt', { attempt: 3 }, { final: true }, { kind: 'dead-letter', reason: 'final-error' }],
    ['a transient failure, attempts left', { attempt: 1 }, { final: false }, { kind: 'retry', delayMs: 100 }],
    ['a transient failure, backoff rounded', { attempt: 2 }, { final: false }, { kind: 'retry', delayMs: 150 }],
    ['a transient failure with its own delay', { attempt: 2 }, { final: false, retryAfterMs: 7 }, { kind: 'retry', delayMs: 7 }],
    ['a transient failure on the last attempt', { attempt: 3 }, { final: false }, { kind: 'dead-letter', reason: 'max-attempts' }],
    ['a transient failure past the last attempt', { attempt: 9 }, { final: false, retryAfterMs: 7 }, { kind: 'dead-letter', reason: 'max-attempts' }],
  ] as const)('%s', (_, at, failure, expected) => {
    expect(faultDecision({ ...envelope, ...at }, { message: 'x', ...failure })).toStrictEqual(expected);
  });
});
