/**
 * The effects of a workflow step, as data: what XState's actions become in a durable
 * workflow (a timer, a task, a record change, a call after the store), and the vocabulary
 * the engine interprets. Pure, like the planner that uses it.
 */
import type { AnyActorRef, EventObject } from 'xstate';
import { isRequestLogic } from './activity.ts';
import { jsonCopy, type TaskPayload, type TimerPayload, type WorkflowRecord } from './workflow-record.ts';
import type { WorkflowDefinition } from './workflow-registry.ts';

/** An action of a step as XState returns it: custom actions carry their implementation. */
export interface StepAction {
  readonly type: string;
  readonly params?: unknown;
  readonly info?: unknown;
  readonly exec?: unknown;
}

/**
 * What a step asks the engine to do. `schedule-timer` and `schedule-task` are published
 * before the record is stored (they carry its `seq`); the others run once it is stored, in order.
 */
export type StepEffect =
  | { readonly type: 'schedule-timer'; readonly msgId: string; readonly due: number; readonly payload: TimerPayload }
  | { readonly type: 'schedule-task'; readonly msgId: string; readonly due: number; readonly payload: TaskPayload }
  /** Stop the attempt of this activity if it runs in this process: the workflow no longer waits for it. */
  | { readonly type: 'stop-activity'; readonly token: string }
  /** Run a custom action (or `log`) of the machine. */
  | { readonly type: 'run-action'; readonly action: StepAction }
  /** Tell the runtime's `onError`: a parked workflow, an unsupported `sendTo`. */
  | { readonly type: 'report'; readonly error: Error; readonly context: string };

/** The timers and tasks of a resumed workflow again: those that came while it was parked were dropped. */
export function resumeEffects(record: WorkflowRecord, now: number): StepEffect[] {
  const { id, seq } = record;
  return [
    ...Object.entries(record.timers).map(([key, timer]): StepEffect => ({ type: 'schedule-timer', msgId: `${id}/${timer.token}/resume/${seq}`, due: timer.due, payload: { id, key, token: timer.token, seq, createdAt: now } })),
    ...Object.entries(record.activities).map(([child, activity]): StepEffect => ({ type: 'schedule-task', msgId: `${id}/${activity.token}/resume/${seq}`, due: now, payload: { id, child, token: activity.token, seq, createdAt: now, attempt: 1 } })),
  ];
}

/** One action of the machine, applied to the draft `record` (its timers and activities): returns the timers, tasks and calls it asks for. */
export function effectsOf(record: WorkflowRecord, definition: WorkflowDefinition, action: StepAction, now: number, newId: () => string): StepEffect[] {
  const params = (action.params ?? {}) as Record<string, unknown>;
  switch (action.type) {
    case 'xstate.raise':
      return typeof params['delay'] === 'number' ? [schedule(record, params['id'] as string | undefined, params['event'] as EventObject, params['delay'], now, newId)] : [];
    case 'xstate.sendTo': {
      const to = params['to'] as AnyActorRef | undefined;
      if (to && (to as { logic?: unknown }).logic === definition.machine) {
        return [schedule(record, params['id'] as string | undefined, params['event'] as EventObject, typeof params['delay'] === 'number' ? params['delay'] : 0, now, newId)];
      }
      const target = typeof params['targetId'] === 'string' ? params['targetId'] : (to?.id ?? 'unknown');
      const error = new Error(`workflow ${record.id}: sendTo ${target} is not supported in a durable workflow (only the workflow itself); the event ${(params['event'] as EventObject | undefined)?.type} was not sent`);
      return [{ type: 'report', error, context: 'workflows' }];
    }
    case 'xstate.cancel': {
      const sendId = params['sendId'];
      if (typeof sendId === 'string') delete record.timers[sendId];
      return [];
    }
    case 'xstate.spawnChild': {
      const ref = params['actorRef'] as (AnyActorRef & { options?: { input?: unknown }; logic?: unknown }) | undefined;
      const child = params['id'] as string | undefined;
      if (!ref || !child) return [];
      const token = newId();
      record.activities[child] = {
        token,
        src: typeof params['src'] === 'string' ? params['src'] : child,
        input: jsonCopy(ref.options?.input ?? null, `the input of activity ${child}`),
        kind: isRequestLogic(ref.logic) ? 'request' : 'activity',
        startedAt: now,
      };
      return [{ type: 'schedule-task', msgId: `${record.id}/${token}/1`, due: now, payload: { id: record.id, child, token, seq: record.seq, createdAt: now, attempt: 1 } }];
    }
    case 'xstate.stopChild': {
      const child = (action.params as { id?: unknown } | undefined)?.id;
      const activity = typeof child === 'string' ? record.activities[child] : undefined;
      if (typeof child !== 'string' || !activity) return [];
      delete record.activities[child];
      return [{ type: 'stop-activity', token: activity.token }];
    }
    default:
      return typeof action.exec === 'function' ? [{ type: 'run-action', action }] : [];
  }
}

/** A delayed event: recorded with a fresh token, and published as a timer carrying it. */
function schedule(record: WorkflowRecord, sendId: string | undefined, event: EventObject, delay: number, now: number, newId: () => string): StepEffect {
  const key = sendId ?? `anonymous.${newId()}`;
  const token = newId();
  const due = now + Math.max(0, delay);
  record.timers[key] = { token, due, event: jsonCopy(event, 'a delayed event') };
  return { type: 'schedule-timer', msgId: `${record.id}/${token}`, due, payload: { id: record.id, key, token, seq: record.seq, createdAt: now } };
}
