/**
 * Runs workflow activities in this process: one attempt of an invoked promise actor, with
 * its {@link ActivityContext}, timeout and cancellation; a failed attempt is retried by its
 * policy through the task queue, and the last outcome becomes the event the workflow gets.
 */
import { createActor, type AnyStateMachine } from 'xstate';
import type { Timers } from '../runtime/timers.ts';
import { FinalError } from '../errors/index.ts';
import { nextAttempt } from '../../machines/retry-policy.ts';
import { defaultActivityPolicy, policyOf, retryPolicyOf, runInActivity, type ActivityPolicy } from './activity.ts';
import { ActivityCancelledError, ActivityTimeoutError } from './workflow-errors.ts';
import { WORKFLOW_TASK, errorInfo, jsonCopy, message, type ActivityEntry, type ChildEvent, type TaskPayload } from './workflow-record.ts';
import type { WorkflowDefinition } from './workflow-registry.ts';

/** What the activity runner needs. */
export interface ActivityRunnerDeps {
  /** The task queue a retry is scheduled on. */
  readonly tasks: Pick<Timers, 'schedule'>;
  readonly now: () => number;
  readonly onError: (error: unknown, context: string) => void;
}

/** The activities running in this process, by token. */
export class ActivityRunner {
  readonly #deps: ActivityRunnerDeps;
  /** Cancels an activity running in this process, by token. */
  readonly #running = new Map<string, () => void>();

  constructor(deps: ActivityRunnerDeps) {
    this.#deps = deps;
  }

  /** Stops the attempt of the activity with this token, if it runs here. */
  stop(token: string): void {
    this.#running.get(token)?.();
  }

  /**
   * Runs one attempt. Resolves with the event for the workflow (`xstate.done.actor.<child>` or,
   * after the last attempt, `xstate.error.actor.<child>`), or undefined when the attempt was
   * cancelled or a retry is scheduled.
   */
  async run(payload: TaskPayload, task: { readonly activity: ActivityEntry; readonly definition: WorkflowDefinition; readonly logic: unknown }): Promise<ChildEvent | undefined> {
    const { activity, definition, logic } = task;
    const policy: ActivityPolicy = { ...defaultActivityPolicy, ...policyOf(logic), ...definition.options.activities?.[activity.src] };
    let output: unknown;
    try {
      output = await this.#attempt(logic, payload, policy, activity);
    } catch (error) {
      if (error instanceof ActivityCancelledError) return undefined;
      // A retry is a durable timer at the backoff, not jittered; a FinalError or the last attempt ends the activity.
      const decision = nextAttempt(retryPolicyOf(policy), payload.attempt, { final: error instanceof FinalError });
      if (decision.kind === 'retry') {
        const due = this.#deps.now() + decision.delayMs;
        const next: TaskPayload = { ...payload, attempt: payload.attempt + 1 };
        this.#deps.onError(new Error(`activity ${activity.src} of workflow ${payload.id} failed (attempt ${payload.attempt} of ${policy.maxAttempts}): ${message(error)}; retrying`), 'workflows');
        await this.#deps.tasks.schedule(WORKFLOW_TASK, `${payload.id}/${payload.token}/${next.attempt}`, due, next);
        return undefined;
      }
      return { type: `xstate.error.actor.${payload.child}`, error: errorInfo(error) };
    }
    let json: unknown;
    try {
      json = jsonCopy(output, `the output of activity ${activity.src}`);
    } catch (error) {
      return { type: `xstate.error.actor.${payload.child}`, error: errorInfo(error) };
    }
    return { type: `xstate.done.actor.${payload.child}`, output: json };
  }

  /** One attempt of an activity, in this process, with its context, timeout and cancellation. */
  #attempt(logic: unknown, payload: TaskPayload, policy: ActivityPolicy, activity: ActivityEntry): Promise<unknown> {
    return new Promise<unknown>((resolve, reject) => {
      const actor = createActor(logic as AnyStateMachine, { input: structuredClone(activity.input) as never });
      let settled = false;
      let timeout: NodeJS.Timeout | undefined;
      const settle = (fn: () => void) => {
        if (settled) return;
        settled = true;
        clearTimeout(timeout);
        this.#running.delete(payload.token);
        fn();
      };
      actor.subscribe({
        complete: () => settle(() => resolve((actor.getSnapshot() as { output?: unknown }).output)),
        error: (error: unknown) => settle(() => reject(error)),
      });
      this.#running.set(payload.token, () => {
        settle(() => reject(new ActivityCancelledError(activity.src, payload.id, payload.token)));
        actor.stop();
      });
      if (policy.timeoutMs !== undefined) {
        timeout = setTimeout(() => {
          settle(() => reject(new ActivityTimeoutError(activity.src, policy.timeoutMs ?? 0)));
          actor.stop();
        }, policy.timeoutMs);
      }
      const context = { workflowId: payload.id, activity: payload.child, attempt: payload.attempt, idempotencyKey: `${payload.id}/${payload.child}/${payload.token}` };
      try {
        runInActivity(context, () => actor.start());
      } catch (error) {
        settle(() => reject(error));
      }
    });
  }
}
