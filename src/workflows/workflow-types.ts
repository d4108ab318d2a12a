import type { AnyStateMachine, EventObject, StateValue } from 'xstate';
import type { Envelope } from '../envelope/types.ts';
import type { ActivityPolicy } from './activity.ts';

/**
 * Where a workflow is: `running` (it may be waiting: for an event, a delay, an activity, a
 * reply), ended (`done`, `failed`, `cancelled`), or `parked`: stopped with a reason because
 * its machine changed incompatibly or a step threw. A parked workflow is kept as it was,
 * untouched, until {@link Workflows.resume}.
 */
export type WorkflowStatus = 'running' | 'done' | 'failed' | 'cancelled' | 'parked';

/** An event for a workflow: an object with a string `type` and any JSON fields. */
export type WorkflowEvent = { readonly type: string; readonly [key: string]: unknown };

/** The persisted XState snapshot of a workflow, as `machine.getPersistedSnapshot()` gives it (JSON). */
export type PersistedWorkflowSnapshot = {
  readonly value: StateValue;
  readonly context: unknown;
  readonly status: string;
  readonly [key: string]: unknown;
};

/**
 * Moves a snapshot persisted by an older version of a machine to the current one. Return
 * the new persisted snapshot (state value and context as the new machine wants them).
 */
export type WorkflowMigration = (snapshot: PersistedWorkflowSnapshot) => PersistedWorkflowSnapshot;

/** An envelope that starts a workflow or sends it an event. The handler replies with `{ workflowId, status, state }`. */
export type WorkflowTrigger =
  | {
      /** The local domain that receives the envelope. */
      readonly domain: string;
      readonly subject: string;
      /** The new workflow's ID (default: `<From>/<Correlation>` of the envelope) and input (default: the Body). */
      readonly start: true | ((envelope: Envelope) => { readonly id?: string; readonly input?: unknown });
    }
  | {
      readonly domain: string;
      readonly subject: string;
      /**
       * The event to send, and to which workflow: by `id`, or (without one) the workflow the
       * envelope's Correlation belongs to: one an envelope with that correlation started, or
       * one that sent a request with it. Default event: `{ type: <Subject>, envelope: { from, body } }`.
       */
      readonly signal: true | ((envelope: Envelope) => { readonly id?: string; readonly event?: EventObject });
    };

/** How a machine is registered as a workflow. */
export interface WorkflowOptions {
  /** The name workflows are started by (default: the machine's `id`). */
  readonly name?: string;
  /** The version recorded with every snapshot (default: a hash of the machine's definition). */
  readonly version?: string;
  /** Older versions whose snapshots this definition can run as they are. */
  readonly compatibleWith?: readonly string[];
  /** Migrations from older versions (by version) to this one. */
  readonly migrations?: Readonly<Record<string, WorkflowMigration>>;
  /** Retry policies of invoked promise actors, by their `src` (overrides {@link activity}'s own policy). */
  readonly activities?: Readonly<Record<string, Partial<ActivityPolicy>>>;
  /** Envelopes that start or signal workflows of this kind. */
  readonly triggers?: readonly WorkflowTrigger[];
  /** How many history entries a workflow keeps (default 100, the newest). */
  readonly historyLimit?: number;
}

/** One settled step of a workflow: the event it processed and the state it reached. */
export interface WorkflowHistoryEntry {
  readonly seq: number;
  readonly at: number;
  readonly event: string;
  readonly state: StateValue;
}

/** A workflow as stored: its state, context and history. */
export interface WorkflowInfo {
  readonly id: string;
  readonly name: string;
  readonly version: string;
  readonly status: WorkflowStatus;
  readonly state: StateValue;
  readonly context: unknown;
  /** The machine's output once `done`. */
  readonly output?: unknown;
  /** Why it `failed` (the machine's error) or why it is `parked`. */
  readonly error?: { readonly name: string; readonly message: string };
  readonly parked?: { readonly reason: string; readonly at: number; readonly event?: EventObject };
  /** Steps settled so far (1 after start). */
  readonly seq: number;
  readonly createdAt: number;
  readonly updatedAt: number;
  /** The newest steps, oldest first. */
  readonly history: readonly WorkflowHistoryEntry[];
  /** Activities and requests running now. */
  readonly activities: readonly { readonly id: string; readonly src: string; readonly kind: 'activity' | 'request'; readonly startedAt: number }[];
  /** Delayed events waiting (`after` transitions, delayed `raise`/`sendTo`). */
  readonly timers: readonly { readonly id: string; readonly due: number; readonly event: string }[];
}

/** What a registration gave. */
export interface RegisteredWorkflow {
  readonly name: string;
  readonly version: string;
  readonly machine: AnyStateMachine;
}

/** Which workflows {@link Workflows.list} returns. */
export interface WorkflowFilter {
  readonly name?: string;
  readonly status?: WorkflowStatus;
  /** A state the workflow is in (`'charging'`, `'payment.waiting'` or a state value object). */
  readonly state?: StateValue;
}

/** A workflow's change, as {@link Workflows.onChange} reports it. */
export interface WorkflowChange {
  readonly id: string;
  readonly name: string;
  readonly status: WorkflowStatus;
  readonly state: StateValue;
  readonly seq: number;
  readonly event: string;
  readonly at: number;
}

/**
 * Durable workflows: users' own XState machines, each run one event at a time, with the
 * snapshot written to JetStream KV after every settled step (revision-checked, so two
 * processes never both advance one workflow), durable delays, journaled activities and
 * versioned definitions. A waiting workflow holds no memory.
 */
export interface Workflows {
  /** Registers a machine as a workflow kind. Registering the same name again adds a version; the latest starts new workflows. */
  register(machine: AnyStateMachine, options?: WorkflowOptions): RegisteredWorkflow;
  /** Starts a workflow (default ID: a random UUID). Resolves once its first step is stored. */
  start(name: string, input?: unknown, options?: { readonly id?: string }): Promise<WorkflowInfo>;
  /** Sends an event. Resolves once the step is stored, with the workflow as it is then. */
  send(id: string, event: WorkflowEvent): Promise<WorkflowInfo>;
  get(id: string): Promise<WorkflowInfo | undefined>;
  list(filter?: WorkflowFilter): Promise<WorkflowInfo[]>;
  /** Ends a running or parked workflow as `cancelled`: its timers and activities are dropped. */
  cancel(id: string, reason?: string): Promise<WorkflowInfo>;
  /** Runs a parked workflow again with the definitions registered now, retrying the event it was parked on. */
  resume(id: string): Promise<WorkflowInfo>;
  /** Resolves when the workflow satisfies `until` (a status, or a predicate); rejects after `timeoutMs` (default 30 s). */
  waitFor(id: string, until: WorkflowStatus | ((info: WorkflowInfo) => boolean), options?: { readonly timeoutMs?: number }): Promise<WorkflowInfo>;
  /** Calls `listener` after every step this process stores. Returns the unsubscribe function. */
  onChange(listener: (change: WorkflowChange) => void): () => void;
  /** The registered kinds (latest version of each). */
  registered(): RegisteredWorkflow[];
}
