/**
 * The workflow step as a pure function: a record, the kind it belongs to, what happened, and
 * the time in; the next record and the effects it asks for out, as data. No NATS, no clock,
 * no I/O: the engine reads the record, calls {@link planStep}, publishes the `schedule-*`
 * effects, stores the record with a revision check, and then runs the other effects.
 *
 * Like XState's own `transition()`, which it wraps: the machine's actions come back as
 * values, and only the engine turns them into timers, tasks and calls.
 */
import { randomUUID } from 'node:crypto';
import { createActor, initialTransition, transition, type AnyMachineSnapshot, type AnyStateMachine, type EventObject } from 'xstate';
import { effectsOf, type StepAction, type StepEffect } from './step-effects.ts';
import { InvalidWorkflowInputError, WorkflowNotRunningError } from './workflow-errors.ts';
import { errorInfo, jsonCopy, message, type ActivityEntry, type ChildEvent, type TaskPayload, type TimerPayload, type WorkflowRecord } from './workflow-record.ts';
import { resolveDefinition, type WorkflowDefinition, type WorkflowKind } from './workflow-registry.ts';
import type { PersistedWorkflowSnapshot } from './workflow-types.ts';

/** A timer or task whose step has not become visible after this long never will: it is dropped. */
export const ORPHAN_GRACE_MS = 30_000;
const DEDUPE_KEEP = 64;
const HISTORY_LIMIT = 100;

/** What happened to a workflow. */
export type StepInput =
  /** An event sent by a caller or an envelope (`dedupeKey`: the envelope, so a redelivery is not sent twice). */
  | { readonly type: 'event'; readonly event: EventObject; readonly dedupeKey?: string }
  /** A timer the workflow scheduled has fired. */
  | { readonly type: 'timer'; readonly timer: TimerPayload }
  /** An activity or request ended with `event` (`xstate.done.actor.<child>` or `xstate.error.actor.<child>`). */
  | { readonly type: 'finished'; readonly child: string; readonly token: string; readonly event: ChildEvent }
  | { readonly type: 'cancel'; readonly reason: string }
  | { readonly type: 'resume' };

/** A record and its effects. */
export interface Step {
  readonly record: WorkflowRecord;
  readonly effects: readonly StepEffect[];
}

/** What {@link planStep} decided. */
export type StepPlan =
  /** Store `record` (its history and change carry `label`). */
  | (Step & { readonly outcome: 'applied'; readonly label: string })
  /** Nothing to do: an ended workflow, a stale timer or result, a redelivered envelope. */
  | { readonly outcome: 'drop' }
  /** A timer whose step may not be visible yet: again shortly. */
  | { readonly outcome: 'later' }
  /** The workflow's kind is not registered in this process. */
  | { readonly outcome: 'elsewhere' }
  /** The caller asked for what the workflow's status does not allow. */
  | { readonly outcome: 'refused'; readonly error: WorkflowNotRunningError };

type Decision =
  | Exclude<StepPlan, { outcome: 'applied' }>
  | { readonly event: EventObject; readonly prepare?: (draft: WorkflowRecord) => void; readonly finishedChild?: string }
  | { readonly label: string; readonly direct: (draft: WorkflowRecord) => void; readonly effects?: readonly StepEffect[] };

/**
 * The next record of a workflow and its effects. `kind` is the workflow's kind as registered
 * in this process (undefined when it is not); `newId` makes the tokens of timers and tasks.
 * Throws nothing the caller did not ask for: a step that fails parks the workflow.
 */
export function planStep(record: WorkflowRecord, kind: WorkflowKind | undefined, input: StepInput, now: number, newId: () => string = randomUUID): StepPlan {
  const decision = decide(record, kind, input, now);
  if ('outcome' in decision) return decision;
  const draft = structuredClone(record);
  if ('direct' in decision) {
    decision.direct(draft);
    return { outcome: 'applied', label: decision.label, record: touch(draft, kind, decision.label, now), effects: decision.effects ?? [] };
  }
  decision.prepare?.(draft);
  return { outcome: 'applied', label: decision.event.type, ...step(draft, kind, decision.event, now, newId, decision.finishedChild) };
}

/** The first record of a workflow. Throws {@link InvalidWorkflowInputError} when the input is not JSON or the machine cannot start with it. */
export function planStart(definition: WorkflowDefinition, id: string, input: unknown, now: number, newId: () => string = randomUUID): Step {
  const json = jsonCopy(input, 'the input of a workflow');
  let snapshot: AnyMachineSnapshot;
  let actions: readonly StepAction[];
  try {
    [snapshot, actions] = initialTransition(definition.machine, json);
  } catch (cause) {
    throw new InvalidWorkflowInputError(`workflow ${definition.name} could not start: ${message(cause)}`, { cause });
  }
  const base: WorkflowRecord = {
    v: 1,
    id,
    name: definition.name,
    version: definition.version,
    status: 'running',
    snapshot: { value: '', context: undefined, status: 'active' },
    seq: 0,
    createdAt: now,
    updatedAt: now,
    history: [],
    timers: {},
    activities: {},
    dedupe: [],
  };
  return plan(base, definition, snapshot, actions, { type: 'xstate.init' }, now, newId);
}

/** What to do with a task (an activity's attempt, or a request to start). */
export type TaskPlan =
  | { readonly outcome: 'drop' | 'later' | 'elsewhere' }
  | { readonly outcome: 'request'; readonly activity: ActivityEntry }
  | { readonly outcome: 'run'; readonly activity: ActivityEntry; readonly definition: WorkflowDefinition; readonly logic: unknown }
  /** The version has no logic for the child: deliver `event` (an error); `restoreError` when the snapshot would not restore. */
  | { readonly outcome: 'finish'; readonly event: ChildEvent; readonly restoreError?: unknown };

/** Whether a task still belongs to its workflow, and the logic it runs. */
export function planTask(record: WorkflowRecord, kind: WorkflowKind | undefined, payload: TaskPayload, now: number): TaskPlan {
  if (record.status !== 'running') return { outcome: 'drop' };
  const activity = record.activities[payload.child];
  if (!activity || activity.token !== payload.token) return { outcome: orphan(record, payload, now) };
  const resolved = resolveDefinition(kind, record);
  // Another process may know this workflow; one that knows it but cannot run this version parks it at its next step.
  if ('reason' in resolved) return { outcome: 'elsewhere' };
  if (activity.kind === 'request') return { outcome: 'request', activity };
  let logic: unknown;
  let restoreError: { error: unknown } | undefined;
  try {
    logic = (restore(resolved.definition.machine, resolved.snapshot).children as Record<string, { logic?: unknown } | undefined>)[payload.child]?.logic;
  } catch (error) {
    restoreError = { error };
  }
  if (logic) return { outcome: 'run', activity, definition: resolved.definition, logic };
  return {
    outcome: 'finish',
    event: { type: `xstate.error.actor.${payload.child}`, error: { name: 'ActivityNotFound', message: `no actor logic for ${activity.src} in version ${resolved.definition.version}` } },
    ...(restoreError ? { restoreError: restoreError.error } : {}),
  };
}

/** Published so recently that the step publishing it may still be on its way to KV. */
export function isYoung(payload: { readonly createdAt: number }, now: number): boolean {
  return now - payload.createdAt < ORPHAN_GRACE_MS;
}

/** A timer or task without its token: wait while its step may still land, else drop it. */
function orphan(record: WorkflowRecord, payload: { readonly seq: number; readonly createdAt: number }, now: number): 'later' | 'drop' {
  return record.seq < payload.seq && isYoung(payload, now) ? 'later' : 'drop';
}

function decide(record: WorkflowRecord, kind: WorkflowKind | undefined, input: StepInput, now: number): Decision {
  switch (input.type) {
    case 'event': {
      if (record.status !== 'running') return { outcome: 'refused', error: new WorkflowNotRunningError(record.id, record.status, record.parked?.reason ?? record.error?.message) };
      const { dedupeKey } = input;
      if (dedupeKey !== undefined && record.dedupe.includes(dedupeKey)) return { outcome: 'drop' };
      if (!kind) return { outcome: 'elsewhere' };
      return { event: input.event, ...(dedupeKey !== undefined ? { prepare: (draft: WorkflowRecord) => void (draft.dedupe = [...draft.dedupe, dedupeKey].slice(-DEDUPE_KEEP)) } : {}) };
    }
    case 'timer': {
      const { key, token } = input.timer;
      if (record.status !== 'running') return { outcome: 'drop' };
      const timer = record.timers[key];
      if (!timer || timer.token !== token) return { outcome: orphan(record, input.timer, now) };
      if (!kind) return { outcome: 'elsewhere' };
      return { event: timer.event, prepare: (draft) => void delete draft.timers[key] };
    }
    case 'finished': {
      const { child, token, event } = input;
      if (record.status !== 'running' || record.activities[child]?.token !== token) return { outcome: 'drop' };
      if (!kind) return { outcome: 'elsewhere' };
      return { event, finishedChild: child, prepare: (draft) => void delete draft.activities[child] };
    }
    case 'cancel': {
      if (record.status !== 'running' && record.status !== 'parked') return { outcome: 'refused', error: new WorkflowNotRunningError(record.id, record.status) };
      return {
        label: 'mailroom.cancel',
        direct: (draft) => {
          draft.status = 'cancelled';
          draft.error = { name: 'Cancelled', message: input.reason };
          draft.timers = {};
          draft.activities = {};
        },
        effects: Object.values(record.activities).map(({ token }) => ({ type: 'stop-activity', token })),
      };
    }
    case 'resume': {
      if (record.status !== 'parked') return { outcome: 'refused', error: new WorkflowNotRunningError(record.id, record.status, 'only a parked workflow can be resumed') };
      const event = record.parked?.event;
      const unpark = (draft: WorkflowRecord) => {
        draft.status = 'running';
        delete draft.parked;
      };
      if (event) return { event, prepare: unpark };
      // Parked outside a step (an activity whose definition is gone): run again from where it stood.
      return { label: 'mailroom.resume', direct: unpark };
    }
  }
}

/** A step that is not an event of the machine (cancel, resume, park): a new seq and a history line. */
function touch(draft: WorkflowRecord, kind: WorkflowKind | undefined, label: string, now: number): WorkflowRecord {
  draft.seq += 1;
  draft.updatedAt = now;
  draft.history = [...draft.history, { seq: draft.seq, at: now, event: label, state: draft.snapshot.value }].slice(-(kind?.latest.options.historyLimit ?? HISTORY_LIMIT));
  return draft;
}

/** One event through the machine the record's version resolves to; parks the workflow when it cannot run. */
function step(draft: WorkflowRecord, kind: WorkflowKind | undefined, event: EventObject, now: number, newId: () => string, finishedChild?: string): Step {
  const resolved = resolveDefinition(kind, draft);
  if ('reason' in resolved) return park(draft, kind, resolved.reason, now, event);
  const untouched = structuredClone(draft);
  try {
    const restored = restore(resolved.definition.machine, resolved.snapshot);
    const [snapshot, actions] = transition(resolved.definition.machine, restored, event);
    if (resolved.migratedFrom !== undefined) {
      draft.history = [...draft.history, { seq: draft.seq, at: now, event: `mailroom.migrate ${resolved.migratedFrom} → ${resolved.definition.version}`, state: resolved.snapshot.value }];
    }
    return plan(draft, resolved.definition, snapshot, actions, event, now, newId, finishedChild);
  } catch (error) {
    // A guard or an assign threw, the snapshot does not fit this version, or the context is not JSON.
    return park(untouched, kind, `the step on ${event.type} failed in version ${resolved.definition.version}: ${message(error)}`, now, event);
  }
}

function park(draft: WorkflowRecord, kind: WorkflowKind | undefined, reason: string, now: number, event?: EventObject): Step {
  draft.status = 'parked';
  draft.parked = { reason, at: now, ...(event && event.type !== 'xstate.init' ? { event } : {}) };
  const error = new Error(`workflow ${draft.id} (${draft.name}) is parked: ${reason}`);
  return { record: touch(draft, kind, event?.type ?? 'mailroom.park', now), effects: [{ type: 'report', error, context: 'workflows' }] };
}

function restore(machine: AnyStateMachine, persisted: PersistedWorkflowSnapshot): AnyMachineSnapshot {
  // Constructing an actor restores the snapshot (children included, not started); it is never started.
  return createActor(machine, { snapshot: persisted as never }).getSnapshot() as AnyMachineSnapshot;
}

/** Turns the step's snapshot and actions into the next record and its effects. */
function plan(draft: WorkflowRecord, definition: WorkflowDefinition, snapshot: AnyMachineSnapshot, actions: readonly StepAction[], event: EventObject, now: number, newId: () => string, finishedChild?: string): Step {
  const persisted = jsonCopy(definition.machine.getPersistedSnapshot(snapshot), 'a workflow snapshot (its context)') as unknown as PersistedWorkflowSnapshot & { children?: Record<string, unknown> };
  if (finishedChild !== undefined && persisted.children) delete persisted.children[finishedChild];
  draft.version = definition.version;
  draft.snapshot = persisted;
  draft.seq += 1;
  draft.updatedAt = now;
  draft.history = [...draft.history, { seq: draft.seq, at: now, event: event.type, state: snapshot.value }].slice(-(definition.options.historyLimit ?? HISTORY_LIMIT));
  const effects: StepEffect[] = [];
  for (const action of actions) effects.push(...effectsOf(draft, definition, action, now, newId));
  if (snapshot.status === 'done' || snapshot.status === 'error') {
    for (const activity of Object.values(draft.activities)) effects.push({ type: 'stop-activity', token: activity.token });
    draft.status = snapshot.status === 'done' ? 'done' : 'failed';
    if (snapshot.status === 'error') draft.error = errorInfo((snapshot as { error?: unknown }).error);
    draft.timers = {};
    draft.activities = {};
  }
  return { record: draft, effects };
}
