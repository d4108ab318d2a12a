import { describe, expect, it } from 'vitest';
import { continuesStoredHistory, initialHistory, isNewStep, mergeHistory, withStep } from '../../src/runtime/status-history.ts';
import type { StatusStep } from '../../src/runtime/status-store.ts';

const step = (state: string, at: string, by?: string): StatusStep => (by === undefined ? { state, at } : { state, at, by });
const initial = initialHistory('t0', 't1');

describe('initialHistory', () => {
  it('is received, then queued', () => {
    expect(initial).toStrictEqual([step('received', 't0'), step('queued', 't1')]);
  });
});

describe('withStep', () => {
  const validating = [...initial, step('validating', 't2')];
  it.each([
    ['a new state is appended', initial, 'validating', [...initial, step('validating', 't9')]],
    ['the last state again is not', validating, 'validating', validating],
    ['an earlier state again is (a second pass)', [...validating, step('handling', 't3')], 'validating', [...validating, step('handling', 't3'), step('validating', 't9')]],
    ['received is the inbox’s, never appended', validating, 'received', validating],
    ['queued is the inbox’s, never appended', validating, 'queued', validating],
    ['deadLettering already last stays once', [...validating, step('deadLettering', 't3')], 'deadLettering', [...validating, step('deadLettering', 't3')]],
  ] as const)('%s', (_, history, state, expected) => {
    expect(withStep(history, state, 't9')).toStrictEqual(expected);
    expect(isNewStep(history, state)).toBe(expected.length > history.length);
  });

  it('returns the same array when nothing is appended, and never changes its input', () => {
    const history = Object.freeze([...validating]);
    expect(withStep(history, 'validating', 't9')).toBe(history);
    expect(withStep(history, 'handling', 't9')).not.toBe(history);
    expect(history).toHaveLength(3);
  });
});

describe('mergeHistory', () => {
  const run = [...initial, step('validating', 't2'), step('replied', 't3')];
  const rerun = [step('received', 'r0'), step('queued', 'r1'), step('validating', 'r2'), step('replied', 'r3')];
  const stored = [...initial, step('validating', 't2'), step('retrying', 't3')];
  const now = () => 'now';
  it.each([
    ['a first attempt keeps its own history', { attempt: 1 }, undefined, run, run],
    ['a first attempt ignores a stored status', { attempt: 1 }, { history: stored, verified: true }, run, run],
    ['a retry continues the stored history after the initial steps', { attempt: 2 }, { history: stored }, rerun, [...stored, step('validating', 'r2'), step('replied', 'r3')]],
    ['a retry with nothing stored keeps its own', { attempt: 2 }, undefined, rerun, rerun],
    ['a retry over a stored history still at queued keeps its own', { attempt: 2 }, { history: initial }, rerun, rerun],
    [
      'a replay continues the verified stored history, after a replayed step at its queued time',
      { attempt: 1, replayedBy: 'ops' },
      { history: stored, verified: true },
      rerun,
      [...stored, step('replayed', 'r1', 'ops'), step('queued', 'r1'), step('validating', 'r2'), step('replied', 'r3')],
    ],
    [
      'a replay over an unverified status starts from its own received',
      { attempt: 3, replayedBy: 'ops' },
      { history: stored },
      rerun,
      [step('received', 'r0'), step('replayed', 'r1', 'ops'), step('queued', 'r1'), step('validating', 'r2'), step('replied', 'r3')],
    ],
    ['a replay with nothing stored starts from its own received', { attempt: 1, replayedBy: 'ops' }, undefined, rerun, [step('received', 'r0'), step('replayed', 'r1', 'ops'), ...rerun.slice(1)]],
    ['a replay without a queued step is replayed now', { attempt: 1, replayedBy: 'ops' }, undefined, rerun.slice(0, 1), [step('received', 'r0'), step('replayed', 'now', 'ops')]],
  ] as const)('%s', (_, at, previous, history, expected) => {
    expect(mergeHistory(history, at, previous, now)).toStrictEqual(expected);
  });

  it.each([
    [{ attempt: 1 }, false],
    [{ attempt: 2 }, true],
    [{ attempt: 1, replayedBy: 'ops' }, true],
    [{ attempt: 1, replayedBy: undefined }, false],
  ] as const)('reads the stored status for %o: %s', (run, expected) => {
    expect(continuesStoredHistory(run)).toBe(expected);
  });
});
