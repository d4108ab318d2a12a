import { describe, expect, it } from 'vitest';
import { backoffDelayMs, jittered, nextAttempt, retryDisposition, type RetryPolicy } from '../../src/runtime/retry-policy.ts';
import { fullJitter } from '../../machines/retry-policy.ts';
import { REVISION_CONFLICT } from '../../src/workflows/workflow-engine.ts';
import { backoffDelayMs as envelopeDelayMs } from '../../machines/step-failure.ts';
import { defaultActivityPolicy, retryDelay, retryPolicyOf } from '../../src/workflows/activity.ts';
import { parseConfig } from '../../src/config/index.ts';

// The four formulas as they were before the policy was one module, kept here as the reference.
const before = {
  envelope: (r: { initialDelayMs: number; maxDelayMs: number; multiplier: number }, attempt: number) =>
    Math.round(Math.min(r.maxDelayMs, r.initialDelayMs * r.multiplier ** Math.max(0, attempt - 1))),
  outbox: (r: { initialDelayMs: number; maxDelayMs: number; multiplier: number }, attempt: number) =>
    Math.min(r.maxDelayMs, r.initialDelayMs * r.multiplier ** Math.max(0, attempt - 1)),
  activity: (p: { initialDelayMs: number; maxDelayMs: number; backoff: number }, attempt: number) =>
    Math.min(p.initialDelayMs * p.backoff ** Math.max(0, attempt - 1), p.maxDelayMs),
  /** The workflow engine's pause after a lost revision check, `tries` counted from 0. */
  revisionConflict: (random: () => number, tries: number) => random() * Math.min(2 ** tries, 50),
};

describe('retry policy: the defaults of each caller, attempt by attempt', () => {
  it('envelopes (delivery: 5 attempts, 1 s doubling to 60 s): rounded nak delays, then a dead letter', () => {
    const policy: RetryPolicy = { maxAttempts: 5, initialDelayMs: 1_000, maxDelayMs: 60_000, multiplier: 2 };
    const table: [attempt: number, delayMs: number][] = [[1, 1_000], [2, 2_000], [3, 4_000], [4, 8_000], [5, 16_000], [6, 32_000], [7, 60_000], [20, 60_000]];
    for (const [attempt, delayMs] of table) expect(envelopeDelayMs(policy, attempt), `attempt ${attempt}`).toBe(delayMs);
    expect([1, 2, 3, 4, 5].map((attempt) => nextAttempt(policy, attempt, { final: false }))).toEqual([
      { kind: 'retry', delayMs: 1_000 },
      { kind: 'retry', delayMs: 2_000 },
      { kind: 'retry', delayMs: 4_000 },
      { kind: 'retry', delayMs: 8_000 },
      { kind: 'dead-letter', reason: 'max-attempts' },
    ]);
  });

  it('the outbox (8 attempts, 1 s doubling to 5 min): jittered naks, then a dead letter', () => {
    const policy: RetryPolicy = { maxAttempts: 8, initialDelayMs: 1_000, maxDelayMs: 300_000, multiplier: 2 };
    const table: [attempt: number, delayMs: number][] = [[1, 1_000], [2, 2_000], [3, 4_000], [4, 8_000], [5, 16_000], [6, 32_000], [7, 64_000], [8, 128_000], [9, 256_000], [10, 300_000]];
    for (const [attempt, delayMs] of table) {
      const decision = nextAttempt(policy, attempt, { final: false });
      if (attempt < 8) {
        expect(decision, `attempt ${attempt}`).toEqual({ kind: 'retry', delayMs });
        if (decision.kind === 'retry') {
          expect(retryDisposition(decision, () => 0)).toEqual({ kind: 'nak', delayMs: delayMs / 2 });
          expect(retryDisposition(decision, () => 1)).toEqual({ kind: 'nak', delayMs });
        }
      } else expect(decision, `attempt ${attempt}`).toEqual({ kind: 'dead-letter', reason: 'max-attempts' });
      expect(backoffDelayMs(policy, attempt)).toBe(delayMs);
    }
    expect(nextAttempt(policy, 1, { final: true })).toEqual({ kind: 'dead-letter', reason: 'final-error' });
  });

  it('activities (3 attempts, 1 s doubling to 60 s): timer delays, not jittered', () => {
    expect(defaultActivityPolicy).toEqual({ maxAttempts: 3, initialDelayMs: 1_000, backoff: 2, maxDelayMs: 60_000 });
    expect([1, 2, 3, 4, 8].map((attempt) => retryDelay(defaultActivityPolicy, attempt))).toEqual([1_000, 2_000, 4_000, 8_000, 60_000]);
    // The engine's rule today: a FinalError, or the last attempt, ends the activity; else a timer after retryDelay.
    const policy = retryPolicyOf(defaultActivityPolicy);
    expect([1, 2, 3].map((attempt) => nextAttempt(policy, attempt, { final: false }))).toEqual([
      { kind: 'retry', delayMs: 1_000 },
      { kind: 'retry', delayMs: 2_000 },
      { kind: 'dead-letter', reason: 'max-attempts' },
    ]);
  });

  it('a workflow step that lost its revision check (25 attempts, full jitter up to 1, 2, 4 … 50 ms): in-process pauses, not rounded', () => {
    expect(REVISION_CONFLICT).toEqual({ maxAttempts: 25, initialDelayMs: 1, multiplier: 2, maxDelayMs: 50 });
    const table: [attempt: number, ceilingMs: number][] = [[1, 1], [2, 2], [3, 4], [4, 8], [5, 16], [6, 32], [7, 50], [25, 50]];
    for (const [attempt, ceilingMs] of table) {
      expect(backoffDelayMs(REVISION_CONFLICT, attempt), `attempt ${attempt}`).toBe(ceilingMs);
      expect(fullJitter(backoffDelayMs(REVISION_CONFLICT, attempt), () => 0)).toBe(0);
      expect(fullJitter(backoffDelayMs(REVISION_CONFLICT, attempt), () => 0.5)).toBe(ceilingMs / 2);
    }
  });

  it('the config defaults are the ones in the tables above', () => {
    const config = parseConfig({}, { env: {} });
    expect(config.delivery.maxAttempts).toBe(5);
    expect(config.delivery.retry).toEqual({ initialDelayMs: 1_000, maxDelayMs: 60_000, multiplier: 2 });
    expect(config.outbox.maxAttempts).toBe(8);
    expect(config.outbox.retry).toEqual({ initialDelayMs: 1_000, maxDelayMs: 300_000, multiplier: 2 });
  });
});

describe('retry policy: the same numbers as the three formulas it replaces', () => {
  const grid = [
    { initialDelayMs: 1_000, maxDelayMs: 60_000, multiplier: 2 },
    { initialDelayMs: 100, maxDelayMs: 1_000, multiplier: 1.5 },
    { initialDelayMs: 3, maxDelayMs: 1_000, multiplier: 1.5 },
    { initialDelayMs: 7, maxDelayMs: 10_000, multiplier: 1.7 },
    { initialDelayMs: 1, maxDelayMs: 1, multiplier: 100 },
    { initialDelayMs: 250, maxDelayMs: 300_000, multiplier: 1 },
    { initialDelayMs: 1_000, maxDelayMs: 5 * 60_000, multiplier: 100 },
  ];
  it('for every attempt from 0 to 40', () => {
    for (const schedule of grid) {
      for (let attempt = 0; attempt <= 40; attempt++) {
        expect(envelopeDelayMs(schedule, attempt)).toBe(before.envelope(schedule, attempt));
        expect(backoffDelayMs(schedule, attempt)).toBe(before.outbox(schedule, attempt));
        const activity = { maxAttempts: 3, initialDelayMs: schedule.initialDelayMs, maxDelayMs: schedule.maxDelayMs, backoff: schedule.multiplier };
        expect(retryDelay(activity, attempt)).toBe(before.activity(activity, attempt));
        for (const r of [0, 0.25, 0.5, 0.999, 1]) expect(jittered(backoffDelayMs(schedule, attempt), () => r)).toBe(jittered(before.outbox(schedule, attempt), () => r));
      }
    }
  });

  it('full jitter: anywhere in [0, delay), not rounded; nothing for no delay', () => {
    for (const r of [0, 0.1, 0.25, 0.5, 0.999]) {
      for (let tries = 0; tries < 30; tries++) expect(fullJitter(backoffDelayMs(REVISION_CONFLICT, tries + 1), () => r)).toBe(before.revisionConflict(() => r, tries));
      expect(fullJitter(7, () => r)).toBe(7 * r);
      expect(fullJitter(0, () => r)).toBe(0);
    }
  });

  it('a retryAfterMs replaces the backoff; a final failure is dead-lettered whatever the attempt', () => {
    const policy: RetryPolicy = { maxAttempts: 5, initialDelayMs: 1_000, maxDelayMs: 60_000, multiplier: 2 };
    expect(nextAttempt(policy, 2, { final: false, retryAfterMs: 123 })).toEqual({ kind: 'retry', delayMs: 123 });
    expect(nextAttempt(policy, 5, { final: false, retryAfterMs: 123 })).toEqual({ kind: 'dead-letter', reason: 'max-attempts' });
    expect(nextAttempt(policy, 1, { final: true, retryAfterMs: 123 })).toEqual({ kind: 'dead-letter', reason: 'final-error' });
  });
});
