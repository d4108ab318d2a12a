/**
 * A workflow as the engine keeps it: its KV record, the payloads of its timers and tasks, and
 * the small pure helpers every part of the engine shares. All of it is JSON.
 */
import { matchesState, type EventObject } from 'xstate';
import { InvalidWorkflowInputError } from './workflow-errors.ts';
import type { PersistedWorkflowSnapshot, WorkflowFilter, WorkflowHistoryEntry, WorkflowInfo, WorkflowStatus } from './workflow-types.ts';

/** Timer kind: a workflow's delayed event came due. */
export const WORKFLOW_TIMER = 'workflow.timer';
/** Task kind: run (or retry) one of a workflow's activities, or start its request. */
export const WORKFLOW_TASK = 'workflow.task';
/** Timer kind: a request a workflow made has ended (or its safety net is due): deliver the outcome. */
export const WORKFLOW_REPLY = 'workflow.reply';

/** A delayed event the workflow waits for; the timer that fires it carries the same token. */
export interface TimerEntry {
  readonly token: string;
  readonly due: number;
  readonly event: EventObject;
}

/** An invoked (or spawned) actor the workflow waits for: an activity, or a request to a domain. */
export interface ActivityEntry {
  readonly token: string;
  readonly src: string;
  readonly input: unknown;
  readonly kind: 'activity' | 'request';
  readonly startedAt: number;
}

/** The KV record of one workflow. */
export interface WorkflowRecord {
  v: 1;
  id: string;
  name: string;
  version: string;
  status: WorkflowStatus;
  snapshot: PersistedWorkflowSnapshot;
  seq: number;
  createdAt: number;
  updatedAt: number;
  history: WorkflowHistoryEntry[];
  timers: Record<string, TimerEntry>;
  activities: Record<string, ActivityEntry>;
  /** Keys of envelopes already turned into events (redelivery does not send twice). */
  dedupe: string[];
  error?: { name: string; message: string };
  parked?: { reason: string; at: number; event?: EventObject };
}

/** The event an invoked actor ends with: `xstate.done.actor.<id>` with `output`, or `xstate.error.actor.<id>` with `error`. */
export type ChildEvent = EventObject & Readonly<Record<string, unknown>>;

/** A correlation's link to its workflow (and, for a request, to the waiting actor). */
export interface CorrelationLink {
  readonly id: string;
  readonly child?: string;
  readonly token?: string;
}

/** The payload of a {@link WORKFLOW_TIMER} timer. */
export interface TimerPayload {
  readonly id: string;
  readonly key: string;
  readonly token: string;
  readonly seq: number;
  readonly createdAt: number;
}

/** The payload of a {@link WORKFLOW_TASK} task. */
export interface TaskPayload {
  readonly id: string;
  readonly child: string;
  readonly token: string;
  readonly seq: number;
  readonly createdAt: number;
  readonly attempt: number;
}

/** The payload of a {@link WORKFLOW_REPLY} timer, and the `link` a workflow's conversation carries. */
export interface ReplyPayload {
  readonly id: string;
  readonly child: string;
  readonly token: string;
  readonly from: string;
  readonly correlation: string;
}

export const message = (error: unknown): string => (error instanceof Error ? error.message : String(error));

/** An error as JSON: its name and message. */
export const errorInfo = (error: unknown): { name: string; message: string } =>
  error instanceof Error ? { name: error.name, message: error.message } : typeof error === 'object' && error !== null && 'message' in error ? { name: String((error as { name?: unknown }).name ?? 'Error'), message: String((error as { message: unknown }).message) } : { name: 'Error', message: String(error) };

/** A JSON copy; `what` names the value in the error when it is not JSON. */
export function jsonCopy<T>(value: T, what: string): T {
  if (value === undefined) return value;
  try {
    return JSON.parse(JSON.stringify(value)) as T;
  } catch (cause) {
    throw new InvalidWorkflowInputError(`${what} must be JSON: ${message(cause)}`, { cause });
  }
}

/** Accepts an event a caller sends: an object with a non-empty string `type` outside XState's own. */
export function checkEvent(event: unknown): asserts event is EventObject {
  if (typeof event !== 'object' || event === null || typeof (event as { type?: unknown }).type !== 'string' || (event as { type: string }).type.length === 0) {
    throw new InvalidWorkflowInputError(`an event must be an object with a non-empty string "type", got ${JSON.stringify(event)}`);
  }
  if ((event as { type: string }).type.startsWith('xstate.')) {
    throw new InvalidWorkflowInputError(`event type ${(event as { type: string }).type} is reserved for XState and the engine`);
  }
}

/** The public view of a record. */
export function toInfo(record: WorkflowRecord): WorkflowInfo {
  const snapshot = record.snapshot;
  return {
    id: record.id,
    name: record.name,
    version: record.version,
    status: record.status,
    state: snapshot.value,
    context: snapshot.context,
    ...(record.status === 'done' ? { output: snapshot['output'] } : {}),
    ...(record.error ? { error: record.error } : {}),
    ...(record.parked ? { parked: record.parked } : {}),
    seq: record.seq,
    createdAt: record.createdAt,
    updatedAt: record.updatedAt,
    history: record.history,
    activities: Object.entries(record.activities).map(([id, a]) => ({ id, src: a.src, kind: a.kind, startedAt: a.startedAt })),
    timers: Object.entries(record.timers).map(([id, t]) => ({ id, due: t.due, event: t.event.type })),
  };
}

/** Whether a record is one {@link WorkflowFilter} asks for. */
export function matchesFilter(record: WorkflowRecord, filter: WorkflowFilter): boolean {
  if (filter.name !== undefined && record.name !== filter.name) return false;
  if (filter.status !== undefined && record.status !== filter.status) return false;
  return filter.state === undefined || matchesState(filter.state, record.snapshot.value);
}
