/**
 * One activity attempt and what comes of it, without NATS: the retry policy decides between
 * a retry (a task `delayMs` later, on the task queue) and the workflow's error event; a
 * stopped attempt comes to nothing. The task queue is a list, time is passed in.
 */
import { describe, expect, it } from 'vitest';
import { fromPromise, setup, type AnyActorLogic } from 'xstate';
import { FinalError } from '../../src/errors/index.ts';
import { activity } from '../../src/workflows/activity.ts';
import { ActivityRunner } from '../../src/workflows/activity-runner.ts';
import { WorkflowRegistry } from '../../src/workflows/workflow-registry.ts';
import { WORKFLOW_TASK, type ActivityEntry, type TaskPayload } from '../../src/workflows/workflow-record.ts';
import type { WorkflowOptions } from '../../src/workflows/workflow-types.ts';

const NOW = 1_000_000;

function harness(options: WorkflowOptions = {}) {
  const scheduled: { kind: string; id: string; due: number; payload: unknown }[] = [];
  const errors: unknown[] = [];
  const runner = new ActivityRunner({
    tasks: { schedule: async (kind, id, due, payload) => void scheduled.push({ kind, id, due, payload }) },
    now: () => NOW,
    onError: (error) => errors.push(error),
  });
  const registry = new WorkflowRegistry();
  const { name } = registry.add(setup({}).createMachine({ id: 'runner-test' }), options);
  const definition = registry.kind(name)!.latest;
  const run = (logic: AnyActorLogic, attempt: number) => {
    const payload: TaskPayload = { id: 'w-1', child: 'charge', token: 't-1', seq: 1, createdAt: NOW, attempt };
    const entry: ActivityEntry = { token: 't-1', src: 'charge', input: {}, kind: 'activity', startedAt: NOW };
    return runner.run(payload, { activity: entry, definition, logic });
  };
  return { runner, run, scheduled, errors };
}

const failing = fromPromise(async () => {
  throw new Error('card declined');
});

describe('ActivityRunner: retry or end, by the retry policy', () => {
  it('retries a failed attempt after 1 s, then 2 s (the default policy), as a task on the queue', async () => {
    for (const [attempt, delayMs] of [[1, 1_000], [2, 2_000]] as const) {
      const { run, scheduled, errors } = harness();
      expect(await run(failing, attempt)).toBeUndefined();
      expect(scheduled).toEqual([{ kind: WORKFLOW_TASK, id: `w-1/t-1/${attempt + 1}`, due: NOW + delayMs, payload: { id: 'w-1', child: 'charge', token: 't-1', seq: 1, createdAt: NOW, attempt: attempt + 1 } }]);
      expect(errors).toHaveLength(1);
    }
  });

  it('ends with the error event after the last attempt, or at once for a FinalError', async () => {
    const last = harness();
    expect(await last.run(failing, 3)).toEqual({ type: 'xstate.error.actor.charge', error: { name: 'Error', message: 'card declined' } });
    expect(last.scheduled).toEqual([]);

    const final = harness();
    const refusing = fromPromise(async () => {
      throw new FinalError('no such card');
    });
    expect(await final.run(refusing, 1)).toEqual({ type: 'xstate.error.actor.charge', error: { name: 'FinalError', message: 'no such card' } });
    expect(final.scheduled).toEqual([]);
  });

  it('takes the policy of the activity, overridden by the workflow’s options for it', async () => {
    const own = activity(async () => Promise.reject(new Error('busy')), { maxAttempts: 4, initialDelayMs: 10, backoff: 3 });
    const byActivity = harness();
    expect(await byActivity.run(own, 3)).toBeUndefined();
    expect(byActivity.scheduled.map((task) => task.due)).toEqual([NOW + 90]);
    expect(await byActivity.run(own, 4)).toMatchObject({ type: 'xstate.error.actor.charge' });

    const byWorkflow = harness({ activities: { charge: { maxAttempts: 2, initialDelayMs: 7 } } });
    expect(await byWorkflow.run(own, 1)).toBeUndefined();
    expect(byWorkflow.scheduled.map((task) => task.due)).toEqual([NOW + 7]);
    expect(await byWorkflow.run(own, 2)).toMatchObject({ type: 'xstate.error.actor.charge' });
  });

  it('finishes with the output of a successful attempt', async () => {
    const { run, scheduled } = harness();
    expect(await run(fromPromise(async () => ({ charged: 5 })), 1)).toEqual({ type: 'xstate.done.actor.charge', output: { charged: 5 } });
    expect(scheduled).toEqual([]);
  });

  it('a stopped attempt comes to nothing: no retry, no event, nothing reported; its signal is aborted', async () => {
    const { runner, run, scheduled, errors } = harness();
    let aborted = false;
    const waiting = fromPromise(({ signal }) => new Promise((_, reject) => signal.addEventListener('abort', () => ((aborted = true), reject(new Error('aborted'))))));
    const result = run(waiting, 1);
    runner.stop('t-1');
    expect(await result).toBeUndefined();
    expect(aborted).toBe(true);
    expect(scheduled).toEqual([]);
    expect(errors).toEqual([]);
  });
});
