/**
 * Durable workflows in Stately Inspector. A workflow has no live XState actor: each step
 * restores its snapshot, runs XState's pure `transition()` and stores the result, so XState
 * emits no inspection events for it. This module makes them up after each stored step, in
 * the shape XState's own are, so whatever consumes the runtime's `inspect` option (the
 * WebSocket inspector of `mailroom start --inspect`, `@statelyai/inspect`'s `createInspector`)
 * shows a workflow like any actor: its machine's definition, its state and context, the
 * events that moved it.
 *
 * Per workflow and process: one `@xstate.actor` registration (the first step this process
 * stores), then per step an `@xstate.event` and an `@xstate.snapshot`. A workflow is its own
 * root actor (`rootId` = its session ID, `workflow:<id>`): it belongs to no actor system, and
 * any process may run its next step.
 *
 * What Stately's converter reads of an actor ref, and what the synthetic one carries:
 * `sessionId`, `id` (shown as its name), `_parent` (none), `logic.config` (the machine's
 * definition: the registered machine itself is the logic), `getSnapshot()` (the latest
 * snapshot). Snapshots are plain JSON: `value`, `context`, `status`, `output`/`error`, plus
 * `mailroom` (the workflow's status, step number, running activities and waiting timers).
 */
import type { AnyActorRef, AnyStateMachine, InspectionEvent } from 'xstate';
import type { WorkflowChange, WorkflowInfo, WorkflowStatus, Workflows } from '../workflows/workflow-types.ts';

const WORKFLOW_ACTOR = Symbol.for('mailroom.workflow.actor');

/** The session ID of a workflow's synthetic actor (stable across processes). */
export function workflowSessionId(workflowId: string): string {
  return `workflow:${workflowId}`;
}

/** True for the actor ref of a workflow's synthetic inspection events. */
export function isWorkflowActor(actorRef: unknown): boolean {
  return typeof actorRef === 'object' && actorRef !== null && (actorRef as { [WORKFLOW_ACTOR]?: unknown })[WORKFLOW_ACTOR] === true;
}

/** The snapshot of a workflow as inspection events carry it (JSON). */
export interface InspectedWorkflowSnapshot {
  readonly status: 'active' | 'done' | 'error' | 'stopped';
  readonly value: WorkflowInfo['state'];
  readonly context: unknown;
  readonly output?: unknown;
  readonly error?: unknown;
  readonly children: Record<string, never>;
  readonly historyValue: Record<string, never>;
  readonly tags: readonly string[];
  readonly mailroom: Pick<WorkflowInfo, 'id' | 'name' | 'version' | 'status' | 'seq' | 'activities' | 'timers' | 'parked' | 'updatedAt'>;
}

const ACTOR_STATUS: Readonly<Record<WorkflowStatus, InspectedWorkflowSnapshot['status']>> = {
  running: 'active',
  // Parked: stopped with a reason, and resumable: still active as far as its machine goes.
  parked: 'active',
  done: 'done',
  failed: 'error',
  cancelled: 'stopped',
};

/** The inspection snapshot of a stored workflow. */
export function inspectedSnapshot(info: WorkflowInfo): InspectedWorkflowSnapshot {
  return {
    status: ACTOR_STATUS[info.status],
    value: info.state,
    context: info.context,
    ...(info.status === 'done' ? { output: info.output } : {}),
    ...(info.error ? { error: info.error } : {}),
    children: {},
    historyValue: {},
    tags: [],
    mailroom: {
      id: info.id,
      name: info.name,
      version: info.version,
      status: info.status,
      seq: info.seq,
      activities: info.activities,
      timers: info.timers,
      ...(info.parked ? { parked: info.parked } : {}),
      updatedAt: info.updatedAt,
    },
  };
}

/** The fields of an actor ref that inspection consumers read, for one workflow. */
interface WorkflowActorRef {
  readonly [WORKFLOW_ACTOR]: true;
  readonly id: string;
  readonly sessionId: string;
  readonly src: string;
  readonly _parent: undefined;
  readonly logic: AnyStateMachine | { readonly config: { readonly id: string } };
  readonly options: Record<string, never>;
  getSnapshot(): InspectedWorkflowSnapshot;
  toJSON(): { xstate$$type: 1; id: string };
}

export interface WorkflowInspectionOptions {
  /** Where the events go: the runtime's `inspect` option. */
  readonly inspect: (event: InspectionEvent) => void;
  /** Reads the stored workflow after each step, and the registered machine (its definition). */
  readonly workflows: Pick<Workflows, 'get' | 'registered'>;
  readonly onError?: (error: unknown, context: string) => void;
  /** How many workflows to remember as registered (default 10 000; the least recently stepped is forgotten first, and registered again should it step). */
  readonly maxTracked?: number;
}

export interface WorkflowInspection {
  /** Give it every change: `workflows.onChange(inspection.onChange)`. */
  readonly onChange: (change: WorkflowChange) => void;
  /** Resolves when the events of every change so far have been emitted. */
  idle(): Promise<void>;
}

interface Tracked {
  readonly ref: WorkflowActorRef;
  snapshot: InspectedWorkflowSnapshot;
  seq: number;
}

/**
 * Emits inspection events for the workflow steps this process stores.
 *
 * @example
 * ```ts
 * const inspection = inspectWorkflows({ inspect: inspector.inspect, workflows: mailroom.workflows });
 * mailroom.workflows.onChange(inspection.onChange);
 * ```
 */
export function inspectWorkflows(options: WorkflowInspectionOptions): WorkflowInspection {
  const { inspect, workflows } = options;
  const maxTracked = options.maxTracked ?? 10_000;
  /** Registered workflows, least recently stepped first. */
  const tracked = new Map<string, Tracked>();
  /** One chain per workflow: its events go out in the order of its steps. */
  const chains = new Map<string, Promise<void>>();

  const emit = (event: InspectionEvent) => {
    try {
      inspect(event);
    } catch (error) {
      options.onError?.(error, 'workflow inspection');
    }
  };

  const register = (info: WorkflowInfo): Tracked => {
    const machine = workflows.registered().find((w) => w.name === info.name)?.machine;
    const sessionId = workflowSessionId(info.id);
    const entry: Tracked = {
      snapshot: inspectedSnapshot(info),
      seq: 0,
      ref: {
        [WORKFLOW_ACTOR]: true,
        id: info.id,
        sessionId,
        src: info.name,
        _parent: undefined,
        logic: machine ?? { config: { id: info.name } },
        options: {},
        getSnapshot: () => entry.snapshot,
        toJSON: () => ({ xstate$$type: 1, id: info.id }),
      },
    };
    emit({ type: '@xstate.actor', actorRef: entry.ref as unknown as AnyActorRef, rootId: sessionId });
    return entry;
  };

  const step = async (change: WorkflowChange) => {
    const info = await workflows.get(change.id);
    let entry = tracked.get(change.id);
    if (!info || info.seq <= (entry?.seq ?? 0)) return;
    if (entry) tracked.delete(change.id);
    else {
      entry = register(info);
      // First seen here (started here, or stepped by another process so far): from this step on.
      entry.seq = change.seq - 1;
    }
    const actorRef = entry.ref as unknown as AnyActorRef;
    const rootId = entry.ref.sessionId;
    // Steps stored since the last one emitted (more than one when steps came fast): their events, then the snapshot now.
    const missed = info.history.filter((h) => h.seq > entry.seq);
    const events = missed.length ? missed.map((h) => h.event) : [change.event];
    entry.snapshot = inspectedSnapshot(info);
    entry.seq = info.seq;
    for (const type of events) emit({ type: '@xstate.event', actorRef, rootId, sourceRef: undefined, event: { type } });
    emit({ type: '@xstate.snapshot', actorRef, rootId, snapshot: entry.snapshot as never, event: { type: events[events.length - 1]! } });
    // Most recently stepped last; the least recent is forgotten first (ended workflows take no more steps).
    tracked.set(change.id, entry);
    while (tracked.size > maxTracked) tracked.delete(tracked.keys().next().value!);
  };

  return {
    onChange(change) {
      const previous = chains.get(change.id) ?? Promise.resolve();
      const next = previous
        .then(() => step(change))
        .catch((error: unknown) => options.onError?.(error, `workflow inspection: ${change.id}`));
      chains.set(change.id, next);
      void next.then(() => {
        if (chains.get(change.id) === next) chains.delete(change.id);
      });
    },
    async idle() {
      while (chains.size) await Promise.all(chains.values());
    },
  };
}
