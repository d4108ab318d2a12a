/**
 * The durable workflow engine. A workflow is a user's XState machine run as a pure reducer:
 * for each event, its persisted snapshot is read from KV, restored, advanced with XState's
 * pure `transition()`, and written back with a revision check; the actions the step asked
 * for become durable effects:
 *
 * - delayed `raise` / `sendTo` (and `after` transitions) → a timer in JetStream, recorded in
 *   the workflow with a token; `cancel` (and leaving the state) drops the record, so a timer
 *   that fires without its token is stale and ignored;
 * - invoked (or spawned) actors → activities: a task in JetStream that any process runs,
 *   retried by policy, whose result comes back as `xstate.done.actor.<id>` /
 *   `xstate.error.actor.<id>`; {@link fromRequest} actors become conversations instead;
 * - other actions (custom actions, `log`) run once, after the step is stored.
 *
 * Timers and tasks are published *before* the step is stored and carry the step's number:
 * a timer that arrives before its step is visible waits; one whose step never landed is
 * dropped. Nothing waits in memory: between events a workflow is only its KV record.
 */
import { randomUUID } from 'node:crypto';
import {
  createActor,
  initialTransition,
  matchesState,
  transition,
  type AnyActorRef,
  type AnyMachineSnapshot,
  type AnyStateMachine,
  type EventObject,
} from 'xstate';
import type { KV, KvEntry } from '@nats-io/kv';
import type { Names } from '../transport/names.ts';
import type { Timers, TimerHandler } from '../runtime/timers.ts';
import { isAlreadyExists } from '../runtime/status-store.ts';
import { FinalError, type Handler } from '../runtime/handlers.ts';
import { TransportError } from '../errors.ts';
import type { ConversationOutcome } from '../../machines/conversation.machine.ts';
import type { ConversationRecord } from '../runtime/conversations.ts';
import { machineVersion } from './machine-version.ts';
import { defaultActivityPolicy, isRequestLogic, policyOf, retryDelay, runInActivity, type ActivityPolicy, type WorkflowRequest, type WorkflowRequestFailure } from './activity.ts';
import {
  ActivityTimeoutError,
  InvalidWorkflowInputError,
  UnknownWorkflowError,
  WorkflowAlreadyExistsError,
  WorkflowNotFoundError,
  WorkflowNotRunningError,
  WorkflowWaitTimeoutError,
} from './workflow-errors.ts';
import type {
  PersistedWorkflowSnapshot,
  RegisteredWorkflow,
  WorkflowChange,
  WorkflowFilter,
  WorkflowHistoryEntry,
  WorkflowInfo,
  WorkflowOptions,
  WorkflowStatus,
  WorkflowTrigger,
  WorkflowEvent,
  Workflows,
} from './workflow-types.ts';

/** Timer kinds of the engine. */
/** Timer kind: a workflow's delayed event came due. */
export const WORKFLOW_TIMER = 'workflow.timer';
/** Task kind: run (or retry) one of a workflow's activities, or start its request. */
export const WORKFLOW_TASK = 'workflow.task';
/** Timer kind: a request a workflow made has ended (or its safety net is due): deliver the outcome. */
export const WORKFLOW_REPLY = 'workflow.reply';

/** A timer or task whose step has not become visible after this long never will: it is dropped. */
const ORPHAN_GRACE_MS = 30_000;
/** How long after a request's timeout the engine looks at its conversation itself, if nobody woke it. */
const REPLY_SAFETY_MS = 2_000;
const DEDUPE_KEEP = 64;

interface TimerEntry {
  readonly token: string;
  readonly due: number;
  readonly event: EventObject;
}

interface ActivityEntry {
  readonly token: string;
  readonly src: string;
  readonly input: unknown;
  readonly kind: 'activity' | 'request';
  readonly startedAt: number;
}

/** The KV record of one workflow. */
interface WorkflowRecord {
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

/** A correlation's link to its workflow (and, for a request, to the waiting actor). */
interface CorrelationLink {
  readonly id: string;
  readonly child?: string;
  readonly token?: string;
}

interface Definition extends RegisteredWorkflow {
  readonly options: WorkflowOptions;
}

/** What to do with a workflow record read for an incoming event. */
type Decision =
  | 'drop'
  | 'later'
  /** This process does not know the workflow's kind: leave it for one that does. */
  | 'elsewhere'
  | {
      readonly event: EventObject;
      /** Changes to the record before the step (remove the timer that fired, the activity that finished). */
      readonly prepare?: (draft: WorkflowRecord) => void;
      /** A child that finished with this event: it leaves the snapshot. */
      readonly finishedChild?: string;
    }
  | { readonly direct: (draft: WorkflowRecord) => void; readonly label: string };

interface Step {
  readonly record: WorkflowRecord;
  readonly publish: (() => Promise<void>)[];
  readonly after: (() => void)[];
}

type Advanced = { kind: 'applied'; record: WorkflowRecord } | { kind: 'drop' | 'later' | 'elsewhere'; record: WorkflowRecord } | { kind: 'missing' };

/** What the engine needs from the runtime. */
export interface WorkflowEngineDeps {
  readonly kv: KV;
  readonly names: Names;
  readonly timers: Timers;
  /** The task queue (activities), apart from the timers so long activities never hold a timer back. */
  readonly tasks: Timers;
  readonly now: () => number;
  /** Starts a conversation (idempotent for one correlation): signs and sends the request. Returns when it times out. */
  /** `link` goes with the conversation and comes back to {@link WorkflowEngine.conversationFinished} when it ends. */
  readonly request: (request: WorkflowRequest & { readonly correlation: string; readonly link: Readonly<Record<string, string>> }) => Promise<{ readonly timeoutAt: number }>;
  readonly conversation: (from: string, correlation: string) => Promise<ConversationRecord | undefined>;
  readonly registerHandler: (domain: string, subject: string, handler: Handler) => void;
  readonly onError: (error: unknown, context: string) => void;
}

const message = (error: unknown) => (error instanceof Error ? error.message : String(error));
const errorInfo = (error: unknown): { name: string; message: string } =>
  error instanceof Error ? { name: error.name, message: error.message } : typeof error === 'object' && error !== null && 'message' in error ? { name: String((error as { name?: unknown }).name ?? 'Error'), message: String((error as { message: unknown }).message) } : { name: 'Error', message: String(error) };

/** A JSON copy; `what` names the value in the error when it is not JSON. */
function jsonCopy<T>(value: T, what: string): T {
  if (value === undefined) return value;
  try {
    return JSON.parse(JSON.stringify(value)) as T;
  } catch (cause) {
    throw new InvalidWorkflowInputError(`${what} must be JSON: ${message(cause)}`, { cause });
  }
}

function checkEvent(event: unknown): asserts event is EventObject {
  if (typeof event !== 'object' || event === null || typeof (event as { type?: unknown }).type !== 'string' || (event as { type: string }).type.length === 0) {
    throw new InvalidWorkflowInputError(`an event must be an object with a non-empty string "type", got ${JSON.stringify(event)}`);
  }
  if ((event as { type: string }).type.startsWith('xstate.')) {
    throw new InvalidWorkflowInputError(`event type ${(event as { type: string }).type} is reserved for XState and the engine`);
  }
}

function toInfo(record: WorkflowRecord): WorkflowInfo {
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

function decode(entry: KvEntry | null): WorkflowRecord | undefined {
  if (!entry || entry.operation !== 'PUT' || entry.length === 0) return undefined;
  return entry.json<WorkflowRecord>();
}

/** The name and version a machine registers as: `options`, else the machine's `id` and a hash of its definition. */
export function registrationOf(machine: AnyStateMachine, options: WorkflowOptions = {}): RegisteredWorkflow {
  const name = options.name ?? machine.id;
  if (!name) throw new InvalidWorkflowInputError('a workflow needs a name: give the machine an id or pass { name }');
  return { name, version: options.version ?? machineVersion(machine), machine };
}

/** The engine behind `mailroom.workflows`. */
export class WorkflowEngine implements Workflows {
  readonly #deps: WorkflowEngineDeps;
  readonly #versions = new Map<string, Map<string, Definition>>();
  readonly #latest = new Map<string, Definition>();
  readonly #locks = new Map<string, Promise<unknown>>();
  /** Cancels an activity running in this process, by token. */
  readonly #running = new Map<string, () => void>();
  readonly #listeners = new Set<(change: WorkflowChange) => void>();

  constructor(deps: WorkflowEngineDeps) {
    this.#deps = deps;
  }

  /** The timer handlers to run in the runtime's timer worker. */
  timerHandlers(): Record<string, TimerHandler> {
    return {
      [WORKFLOW_TIMER]: (payload) => this.#fireTimer(payload as TimerPayload),
      [WORKFLOW_REPLY]: (payload) => this.#fireReply(payload as ReplyPayload),
    };
  }

  /** The handlers of the task worker (activities). */
  taskHandlers(): Record<string, TimerHandler> {
    return { [WORKFLOW_TASK]: (payload) => this.#runTask(payload as TaskPayload) };
  }

  register(machine: AnyStateMachine, options: WorkflowOptions = {}): RegisteredWorkflow {
    const { name, version } = registrationOf(machine, options);
    const definition: Definition = { name, version, machine, options };
    let versions = this.#versions.get(name);
    if (!versions) this.#versions.set(name, (versions = new Map()));
    versions.set(version, definition);
    this.#latest.set(name, definition);
    for (const trigger of options.triggers ?? []) this.#deps.registerHandler(trigger.domain, trigger.subject, this.#triggerHandler(name, trigger));
    return { name, version, machine };
  }

  registered(): RegisteredWorkflow[] {
    return [...this.#latest.values()].map(({ name, version, machine }) => ({ name, version, machine }));
  }

  onChange(listener: (change: WorkflowChange) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  async start(name: string, input?: unknown, options: { readonly id?: string; readonly correlation?: string } = {}): Promise<WorkflowInfo> {
    const definition = this.#latest.get(name);
    if (!definition) throw new UnknownWorkflowError(name, [...this.#latest.keys()]);
    if (typeof options !== 'object' || options === null) throw new InvalidWorkflowInputError(`the options of workflows.start must be an object like { id: 'order-1' }, got ${JSON.stringify(options)}`);
    const id = options.id ?? randomUUID();
    if (typeof id !== 'string' || id.length === 0) throw new InvalidWorkflowInputError('a workflow id must be a non-empty string');
    const json = jsonCopy(input, 'the input of a workflow');
    const now = this.#deps.now();
    let snapshot: AnyMachineSnapshot;
    let actions: ReturnType<typeof initialTransition>[1];
    try {
      [snapshot, actions] = initialTransition(definition.machine, json);
    } catch (cause) {
      throw new InvalidWorkflowInputError(`workflow ${name} could not start: ${message(cause)}`, { cause });
    }
    const base: WorkflowRecord = {
      v: 1,
      id,
      name,
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
    const step = this.#plan(base, definition, snapshot, actions, { type: 'xstate.init' });
    const key = this.#deps.names.workflowKey(id);
    return this.#exclusive(id, async () => {
      for (const publish of step.publish) await publish();
      try {
        await this.#deps.kv.create(key, JSON.stringify(step.record));
      } catch (error) {
        if (isAlreadyExists(error)) throw new WorkflowAlreadyExistsError(id);
        throw new TransportError(`could not store workflow ${id}`, { cause: error });
      }
      if (options.correlation !== undefined) await this.#link(options.correlation, { id });
      this.#afterCommit(step, 'xstate.init');
      return toInfo(step.record);
    });
  }

  send(id: string, event: WorkflowEvent): Promise<WorkflowInfo> {
    return this.#send(id, event);
  }

  async #send(id: string, event: EventObject, dedupeKey?: string): Promise<WorkflowInfo> {
    checkEvent(event);
    const json = jsonCopy(event, 'an event');
    const result = await this.#advance(id, (record) => {
      if (record.status !== 'running') throw new WorkflowNotRunningError(id, record.status, record.parked?.reason ?? record.error?.message);
      if (dedupeKey !== undefined && record.dedupe.includes(dedupeKey)) return 'drop';
      if (!this.#versions.has(record.name)) throw new UnknownWorkflowError(record.name, [...this.#latest.keys()]);
      return {
        event: json,
        ...(dedupeKey !== undefined ? { prepare: (draft: WorkflowRecord) => void (draft.dedupe = [...draft.dedupe, dedupeKey].slice(-DEDUPE_KEEP)) } : {}),
      };
    });
    if (result.kind === 'missing') throw new WorkflowNotFoundError(id);
    return toInfo(result.record);
  }

  async get(id: string): Promise<WorkflowInfo | undefined> {
    const record = decode(await this.#deps.kv.get(this.#deps.names.workflowKey(id)));
    return record ? toInfo(record) : undefined;
  }

  async list(filter: WorkflowFilter = {}): Promise<WorkflowInfo[]> {
    const out: WorkflowInfo[] = [];
    for (const record of await this.#all()) {
      if (filter.name !== undefined && record.name !== filter.name) continue;
      if (filter.status !== undefined && record.status !== filter.status) continue;
      if (filter.state !== undefined && !matchesState(filter.state, record.snapshot.value)) continue;
      out.push(toInfo(record));
    }
    return out.sort((a, b) => a.createdAt - b.createdAt || a.id.localeCompare(b.id));
  }

  /** Every workflow record, read in one pass over the bucket (a watch of the last values), not one get per key. */
  async #all(): Promise<WorkflowRecord[]> {
    let count = 0;
    for await (const _key of await this.#deps.kv.keys('w.>')) count++;
    if (count === 0) return [];
    const records: WorkflowRecord[] = [];
    const watcher = await this.#deps.kv.watch({ key: 'w.>', ignoreDeletes: true });
    for await (const entry of watcher) {
      const record = entry.operation === 'PUT' && entry.length > 0 ? entry.json<WorkflowRecord>() : undefined;
      if (record) records.push(record);
      // `delta` counts what is left of the initial values: 0 is the newest, so the pass is complete.
      if (entry.delta === 0 || records.length >= count) break;
    }
    watcher.stop();
    return records;
  }

  async cancel(id: string, reason = 'cancelled'): Promise<WorkflowInfo> {
    let tokens: string[] = [];
    const result = await this.#advance(id, (record) => {
      if (record.status !== 'running' && record.status !== 'parked') throw new WorkflowNotRunningError(id, record.status);
      tokens = Object.values(record.activities).map((a) => a.token);
      return {
        label: 'mailroom.cancel',
        direct: (draft) => {
          draft.status = 'cancelled';
          draft.error = { name: 'Cancelled', message: reason };
          draft.timers = {};
          draft.activities = {};
        },
      };
    });
    if (result.kind === 'missing') throw new WorkflowNotFoundError(id);
    for (const token of tokens) this.#running.get(token)?.();
    return toInfo(result.record);
  }

  async resume(id: string): Promise<WorkflowInfo> {
    const result = await this.#advance(id, (record) => {
      if (record.status !== 'parked') throw new WorkflowNotRunningError(id, record.status, 'only a parked workflow can be resumed');
      const event = record.parked?.event;
      const unpark = (draft: WorkflowRecord) => {
        draft.status = 'running';
        delete draft.parked;
      };
      if (event) return { event, prepare: unpark };
      // Parked outside a step (an activity whose definition is gone): run again from where it stood.
      return { label: 'mailroom.resume', direct: unpark };
    });
    if (result.kind === 'missing') throw new WorkflowNotFoundError(id);
    // Timers and tasks that came while it was parked were dropped: schedule those it still waits for again.
    if (result.kind === 'applied' && result.record.status === 'running') {
      for (const [key, timer] of Object.entries(result.record.timers)) {
        await this.#deps.timers.schedule(WORKFLOW_TIMER, `${id}/${timer.token}/resume/${result.record.seq}`, timer.due, {
          id,
          key,
          token: timer.token,
          seq: result.record.seq,
          createdAt: this.#deps.now(),
        } satisfies TimerPayload);
      }
      for (const [child, activity] of Object.entries(result.record.activities)) {
        await this.#deps.tasks.schedule(WORKFLOW_TASK, `${id}/${activity.token}/resume/${result.record.seq}`, this.#deps.now(), {
          id,
          child,
          token: activity.token,
          seq: result.record.seq,
          createdAt: this.#deps.now(),
          attempt: 1,
        } satisfies TaskPayload);
      }
    }
    return toInfo(result.record);
  }

  async waitFor(id: string, until: WorkflowStatus | ((info: WorkflowInfo) => boolean), options: { readonly timeoutMs?: number } = {}): Promise<WorkflowInfo> {
    const timeoutMs = options.timeoutMs ?? 30_000;
    const test = typeof until === 'function' ? until : (info: WorkflowInfo) => info.status === until;
    const watcher = await this.#deps.kv.watch({ key: this.#deps.names.workflowKey(id) });
    let last: WorkflowInfo | undefined;
    const timer = setTimeout(() => watcher.stop(), timeoutMs);
    try {
      for await (const entry of watcher) {
        const record = entry.operation === 'PUT' && entry.length > 0 ? entry.json<WorkflowRecord>() : undefined;
        if (!record) continue;
        last = toInfo(record);
        if (test(last)) return last;
      }
    } finally {
      clearTimeout(timer);
      watcher.stop();
    }
    throw new WorkflowWaitTimeoutError(id, timeoutMs, last ? { status: last.status, state: last.state } : undefined);
  }

  /** The conversations hook: a request a workflow made (its `link`, a {@link ReplyPayload}) has ended; wake the workflow. */
  async conversationFinished(link: Readonly<Record<string, string>>): Promise<void> {
    const { id, child, token, from, correlation } = link;
    if (!id || !child || !token || !from || !correlation) return;
    await this.#deps.timers.schedule(WORKFLOW_REPLY, `${id}/${token}/done`, this.#deps.now(), { id, child, token, from, correlation } satisfies ReplyPayload);
  }

  // ——— steps ———

  #exclusive<T>(id: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.#locks.get(id) ?? Promise.resolve();
    const run = previous.then(fn, fn);
    const tail = run.catch(() => undefined);
    this.#locks.set(id, tail);
    void tail.then(() => {
      if (this.#locks.get(id) === tail) this.#locks.delete(id);
    });
    return run;
  }

  /** Reads, decides, steps, publishes the step's timers and tasks, and stores it with a revision check; again on a conflict. */
  #advance(id: string, decide: (record: WorkflowRecord) => Decision): Promise<Advanced> {
    const key = this.#deps.names.workflowKey(id);
    return this.#exclusive(id, async () => {
      for (let tries = 0; tries < 25; tries++) {
        const entry = await this.#deps.kv.get(key);
        const record = decode(entry);
        if (!entry || !record) return { kind: 'missing' } as const;
        const decision = decide(record);
        if (decision === 'drop' || decision === 'later' || decision === 'elsewhere') return { kind: decision, record };
        const draft = structuredClone(record);
        let step: Step;
        let label: string;
        if ('direct' in decision) {
          decision.direct(draft);
          label = decision.label;
          step = { record: this.#touch(draft, label), publish: [], after: [] };
        } else {
          decision.prepare?.(draft);
          label = decision.event.type;
          step = this.#step(draft, decision.event, decision.finishedChild);
        }
        for (const publish of step.publish) await publish();
        try {
          await this.#deps.kv.update(key, JSON.stringify(step.record), entry.revision);
        } catch (error) {
          if (isAlreadyExists(error)) {
            // Another process stored a step first. Back off a little (random, growing), so two
            // busy writers do not keep colliding until the tries run out.
            await new Promise((resolve) => setTimeout(resolve, Math.random() * Math.min(2 ** tries, 50)));
            continue;
          }
          throw new TransportError(`could not store workflow ${id}`, { cause: error });
        }
        this.#afterCommit(step, label);
        return { kind: 'applied', record: step.record } as const;
      }
      throw new TransportError(`workflow ${id}: too many concurrent updates`);
    });
  }

  /** A step that is not an event of the machine (cancel, resume): a new seq and a history line. */
  #touch(draft: WorkflowRecord, label: string): WorkflowRecord {
    const now = this.#deps.now();
    draft.seq += 1;
    draft.updatedAt = now;
    draft.history = [...draft.history, { seq: draft.seq, at: now, event: label, state: draft.snapshot.value }].slice(-this.#historyLimit(draft.name));
    return draft;
  }

  #historyLimit(name: string): number {
    return this.#latest.get(name)?.options.historyLimit ?? 100;
  }

  /** One event through the machine the record's version resolves to; parks the workflow when it cannot run. */
  #step(draft: WorkflowRecord, event: EventObject, finishedChild?: string): Step {
    const resolved = this.#resolve(draft);
    if ('reason' in resolved) return this.#park(draft, resolved.reason, event);
    const untouched = structuredClone(draft);
    try {
      const restored = this.#restore(resolved.definition.machine, resolved.snapshot);
      const [snapshot, actions] = transition(resolved.definition.machine, restored, event);
      if (resolved.migratedFrom !== undefined) {
        draft.history = [...draft.history, { seq: draft.seq, at: this.#deps.now(), event: `mailroom.migrate ${resolved.migratedFrom} → ${resolved.definition.version}`, state: resolved.snapshot.value }];
      }
      return this.#plan(draft, resolved.definition, snapshot, actions, event, finishedChild);
    } catch (error) {
      // A guard or an assign threw, the snapshot does not fit this version, or the context is not JSON.
      return this.#park(untouched, `the step on ${event.type} failed in version ${resolved.definition.version}: ${message(error)}`, event);
    }
  }

  #park(draft: WorkflowRecord, reason: string, event?: EventObject): Step {
    draft.status = 'parked';
    draft.parked = { reason, at: this.#deps.now(), ...(event && event.type !== 'xstate.init' ? { event } : {}) };
    const name = draft.name;
    return {
      record: this.#touch(draft, event?.type ?? 'mailroom.park'),
      publish: [],
      after: [() => this.#deps.onError(new Error(`workflow ${draft.id} (${name}) is parked: ${reason}`), 'workflows')],
    };
  }

  /** The definition a record runs on: its own version, one compatible with it, or a migration to one. */
  #resolve(record: WorkflowRecord): { definition: Definition; snapshot: PersistedWorkflowSnapshot; migratedFrom?: string } | { reason: string } {
    const versions = this.#versions.get(record.name);
    if (!versions) return { reason: `no workflow named ${record.name} is registered in this process` };
    const exact = versions.get(record.version);
    if (exact) return { definition: exact, snapshot: record.snapshot };
    const candidates = [...versions.values()].reverse();
    for (const definition of candidates) if (definition.options.compatibleWith?.includes(record.version)) return { definition, snapshot: record.snapshot };
    for (const definition of candidates) {
      const migrate = definition.options.migrations?.[record.version];
      if (!migrate) continue;
      try {
        return { definition, snapshot: jsonCopy(migrate(structuredClone(record.snapshot)), 'a migrated snapshot'), migratedFrom: record.version };
      } catch (error) {
        return { reason: `the migration of ${record.name} from version ${record.version} to ${definition.version} threw: ${message(error)}` };
      }
    }
    const known = [...versions.keys()].join(', ');
    return {
      reason: `its version ${record.version} of ${record.name} is not registered (registered: ${known}), and none of those declares it compatible or migrates from it`,
    };
  }

  #restore(machine: AnyStateMachine, persisted: PersistedWorkflowSnapshot): AnyMachineSnapshot {
    // Constructing an actor restores the snapshot (children included, not started); it is never started.
    return createActor(machine, { snapshot: persisted as never }).getSnapshot() as AnyMachineSnapshot;
  }

  /** Turns the step's snapshot and actions into the next record and its durable effects. */
  #plan(draft: WorkflowRecord, definition: Definition, snapshot: AnyMachineSnapshot, actions: readonly { type: string; params?: unknown; info?: unknown; exec?: unknown }[], event: EventObject, finishedChild?: string): Step {
    const now = this.#deps.now();
    const persisted = jsonCopy(definition.machine.getPersistedSnapshot(snapshot), 'a workflow snapshot (its context)') as unknown as PersistedWorkflowSnapshot & { children?: Record<string, unknown> };
    if (finishedChild !== undefined && persisted.children) delete persisted.children[finishedChild];
    draft.version = definition.version;
    draft.snapshot = persisted;
    draft.seq += 1;
    draft.updatedAt = now;
    draft.history = [...draft.history, { seq: draft.seq, at: now, event: event.type, state: snapshot.value }].slice(-(definition.options.historyLimit ?? 100));
    const step: Step = { record: draft, publish: [], after: [] };
    for (const action of actions) this.#effect(step, definition, action, now);
    if (snapshot.status === 'done' || snapshot.status === 'error') {
      for (const activity of Object.values(draft.activities)) step.after.push(() => this.#running.get(activity.token)?.());
      draft.status = snapshot.status === 'done' ? 'done' : 'failed';
      if (snapshot.status === 'error') draft.error = errorInfo((snapshot as { error?: unknown }).error);
      draft.timers = {};
      draft.activities = {};
    }
    return step;
  }

  #effect(step: Step, definition: Definition, action: { type: string; params?: unknown; info?: unknown; exec?: unknown }, now: number): void {
    const record = step.record;
    const params = (action.params ?? {}) as Record<string, unknown>;
    switch (action.type) {
      case 'xstate.raise':
        if (typeof params['delay'] === 'number') this.#schedule(step, params['id'] as string | undefined, params['event'] as EventObject, params['delay'], now);
        return;
      case 'xstate.sendTo': {
        const to = params['to'] as AnyActorRef | undefined;
        if (to && (to as { logic?: unknown }).logic === definition.machine) {
          this.#schedule(step, params['id'] as string | undefined, params['event'] as EventObject, typeof params['delay'] === 'number' ? params['delay'] : 0, now);
        } else {
          const target = typeof params['targetId'] === 'string' ? params['targetId'] : (to?.id ?? 'unknown');
          step.after.push(() =>
            this.#deps.onError(new Error(`workflow ${record.id}: sendTo ${target} is not supported in a durable workflow (only the workflow itself); the event ${(params['event'] as EventObject | undefined)?.type} was not sent`), 'workflows'),
          );
        }
        return;
      }
      case 'xstate.cancel': {
        const sendId = params['sendId'];
        if (typeof sendId === 'string') delete record.timers[sendId];
        return;
      }
      case 'xstate.spawnChild': {
        const ref = params['actorRef'] as (AnyActorRef & { options?: { input?: unknown }; logic?: unknown }) | undefined;
        const child = params['id'] as string | undefined;
        if (!ref || !child) return;
        const token = randomUUID();
        record.activities[child] = {
          token,
          src: typeof params['src'] === 'string' ? params['src'] : child,
          input: jsonCopy(ref.options?.input ?? null, `the input of activity ${child}`),
          kind: isRequestLogic(ref.logic) ? 'request' : 'activity',
          startedAt: now,
        };
        const payload: TaskPayload = { id: record.id, child, token, seq: record.seq, createdAt: now, attempt: 1 };
        step.publish.push(() => this.#deps.tasks.schedule(WORKFLOW_TASK, `${record.id}/${token}/1`, now, payload));
        return;
      }
      case 'xstate.stopChild': {
        const child = (action.params as { id?: unknown } | undefined)?.id;
        const activity = typeof child === 'string' ? record.activities[child] : undefined;
        if (typeof child === 'string' && activity) {
          delete record.activities[child];
          step.after.push(() => this.#running.get(activity.token)?.());
        }
        return;
      }
      default: {
        const exec = action.exec;
        if (typeof exec === 'function') {
          step.after.push(() => {
            try {
              (exec as (info: unknown, params: unknown) => void)(action.info, action.params);
            } catch (error) {
              this.#deps.onError(error, `workflow ${record.id}: action ${action.type}`);
            }
          });
        }
      }
    }
  }

  #schedule(step: Step, sendId: string | undefined, event: EventObject, delay: number, now: number): void {
    const record = step.record;
    const key = sendId ?? `anonymous.${randomUUID()}`;
    const token = randomUUID();
    const due = now + Math.max(0, delay);
    record.timers[key] = { token, due, event: jsonCopy(event, 'a delayed event') };
    const payload: TimerPayload = { id: record.id, key, token, seq: record.seq, createdAt: now };
    step.publish.push(() => this.#deps.timers.schedule(WORKFLOW_TIMER, `${record.id}/${token}`, due, payload));
  }

  #afterCommit(step: Step, label: string): void {
    for (const run of step.after) run();
    const record = step.record;
    const change: WorkflowChange = { id: record.id, name: record.name, status: record.status, state: record.snapshot.value, seq: record.seq, event: label, at: record.updatedAt };
    for (const listener of this.#listeners) {
      try {
        listener(change);
      } catch (error) {
        this.#deps.onError(error, 'workflows: change listener');
      }
    }
  }

  /** A timer or task without its token: wait while its step may still land, else drop it. */
  #orphan(record: WorkflowRecord, payload: { seq: number; createdAt: number }): 'later' | 'drop' {
    return record.seq < payload.seq && this.#young(payload) ? 'later' : 'drop';
  }

  /** Again in a second, maybe in another process: this one does not run the workflow's kind. */
  #elsewhere(): { retryAt: number } {
    return { retryAt: this.#deps.now() + 1_000 };
  }

  /** Published so recently that the step publishing it may still be on its way to KV. */
  #young(payload: { createdAt: number }): boolean {
    return this.#deps.now() - payload.createdAt < ORPHAN_GRACE_MS;
  }

  /** Again shortly: the step that published this is normally stored within milliseconds. */
  #later(): { retryAt: number } {
    return { retryAt: this.#deps.now() + 25 };
  }

  // ——— timers, tasks, replies ———

  async #fireTimer(payload: TimerPayload): Promise<void | { retryAt: number }> {
    const result = await this.#advance(payload.id, (record) => {
      if (record.status !== 'running') return 'drop';
      const timer = record.timers[payload.key];
      if (!timer || timer.token !== payload.token) return this.#orphan(record, payload);
      if (!this.#versions.has(record.name)) return 'elsewhere';
      return { event: timer.event, prepare: (draft) => void delete draft.timers[payload.key] };
    });
    if (result.kind === 'later' || (result.kind === 'missing' && this.#young(payload))) return this.#later();
    if (result.kind === 'elsewhere') return this.#elsewhere();
  }

  /** Delivers an activity's or request's end to its workflow, if the workflow still waits for that very run. */
  async #finish(id: string, child: string, token: string, event: EventObject & Record<string, unknown>): Promise<void | { retryAt: number }> {
    const result = await this.#advance(id, (record) => {
      if (record.status !== 'running' || record.activities[child]?.token !== token) return 'drop';
      if (!this.#versions.has(record.name)) return 'elsewhere';
      return { event, finishedChild: child, prepare: (draft) => void delete draft.activities[child] };
    });
    if (result.kind === 'elsewhere') return this.#elsewhere();
  }

  /**
   * The record, waiting a few milliseconds for the step `seq` when it is not visible yet: a task
   * is published just before its step is stored, and is often here first.
   */
  async #readAtLeast(id: string, seq: number): Promise<WorkflowRecord | undefined> {
    const key = this.#deps.names.workflowKey(id);
    let record = decode(await this.#deps.kv.get(key));
    for (let tries = 0; tries < 8 && (!record || record.seq < seq); tries++) {
      await new Promise((resolve) => setTimeout(resolve, 2 + tries * 2));
      record = decode(await this.#deps.kv.get(key));
    }
    return record;
  }

  async #runTask(payload: TaskPayload): Promise<void | { retryAt: number }> {
    const record = await this.#readAtLeast(payload.id, payload.seq);
    // Published just before the workflow's first step was stored: it may not be visible yet.
    if (!record) return this.#young(payload) ? this.#later() : undefined;
    if (record.status !== 'running') return;
    const activity = record.activities[payload.child];
    if (!activity || activity.token !== payload.token) return this.#orphan(record, payload) === 'later' ? this.#later() : undefined;
    const resolved = this.#resolve(record);
    if ('reason' in resolved) {
      // Another process may know this workflow; one that knows it but cannot run this version parks it at its next step.
      return this.#elsewhere();
    }
    if (activity.kind === 'request') return this.#startRequest(record, payload, activity);

    let logic: unknown;
    try {
      logic = (this.#restore(resolved.definition.machine, resolved.snapshot).children as Record<string, { logic?: unknown } | undefined>)[payload.child]?.logic;
    } catch (error) {
      logic = undefined;
      this.#deps.onError(error, `workflow ${record.id}: restoring for activity ${payload.child}`);
    }
    if (!logic) {
      return this.#finish(payload.id, payload.child, payload.token, {
        type: `xstate.error.actor.${payload.child}`,
        error: { name: 'ActivityNotFound', message: `no actor logic for ${activity.src} in version ${resolved.definition.version}` },
      });
    }
    const policy: ActivityPolicy = { ...defaultActivityPolicy, ...policyOf(logic), ...resolved.definition.options.activities?.[activity.src] };
    let output: unknown;
    try {
      output = await this.#runActivity(logic, payload, policy, activity);
    } catch (error) {
      if (error instanceof ActivityCancelled) return;
      const final = error instanceof FinalError || payload.attempt >= policy.maxAttempts;
      if (!final) {
        const due = this.#deps.now() + retryDelay(policy, payload.attempt);
        const next: TaskPayload = { ...payload, attempt: payload.attempt + 1 };
        this.#deps.onError(new Error(`activity ${activity.src} of workflow ${payload.id} failed (attempt ${payload.attempt} of ${policy.maxAttempts}): ${message(error)}; retrying`), 'workflows');
        await this.#deps.tasks.schedule(WORKFLOW_TASK, `${payload.id}/${payload.token}/${next.attempt}`, due, next);
        return;
      }
      return this.#finish(payload.id, payload.child, payload.token, { type: `xstate.error.actor.${payload.child}`, error: errorInfo(error) });
    }
    let json: unknown;
    try {
      json = jsonCopy(output, `the output of activity ${activity.src}`);
    } catch (error) {
      return this.#finish(payload.id, payload.child, payload.token, { type: `xstate.error.actor.${payload.child}`, error: errorInfo(error) });
    }
    return this.#finish(payload.id, payload.child, payload.token, { type: `xstate.done.actor.${payload.child}`, output: json });
  }

  /** One attempt of an activity, in this process, with its context, timeout and cancellation. */
  #runActivity(logic: unknown, payload: TaskPayload, policy: ActivityPolicy, activity: ActivityEntry): Promise<unknown> {
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
        settle(() => reject(new ActivityCancelled()));
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

  async #startRequest(record: WorkflowRecord, payload: TaskPayload, activity: ActivityEntry): Promise<void | { retryAt: number }> {
    const input = activity.input as Partial<WorkflowRequest> | null;
    if (!input || typeof input.from !== 'string' || typeof input.to !== 'string' || typeof input.subject !== 'string') {
      return this.#finish(record.id, payload.child, payload.token, {
        type: `xstate.error.actor.${payload.child}`,
        error: { name: 'InvalidRequest', message: 'a fromRequest() actor needs an input with from, to and subject' },
      });
    }
    const correlation = payload.token;
    // For envelopes the asked domain sends later under this correlation (signal triggers).
    await this.#link(correlation, { id: record.id, child: payload.child, token: payload.token });
    const link: ReplyPayload = { id: record.id, child: payload.child, token: payload.token, from: input.from, correlation };
    let timeoutAt: number;
    try {
      ({ timeoutAt } = await this.#deps.request({ ...(input as WorkflowRequest), correlation, link: { ...link } }));
    } catch (error) {
      return this.#finish(record.id, payload.child, payload.token, { type: `xstate.error.actor.${payload.child}`, error: errorInfo(error) });
    }
    // The fallback, should the process that ends the conversation die before it wakes this workflow.
    await this.#deps.timers.schedule(WORKFLOW_REPLY, `${record.id}/${payload.token}/safety`, timeoutAt + REPLY_SAFETY_MS, link);
  }

  async #fireReply(payload: ReplyPayload): Promise<void | { retryAt: number }> {
    const conversation = await this.#deps.conversation(payload.from, payload.correlation);
    if (!conversation) return;
    const outcome: ConversationOutcome | undefined = conversation.output;
    if (!outcome) return { retryAt: this.#deps.now() + 1_000 };
    if (outcome.state === 'replied') return this.#finish(payload.id, payload.child, payload.token, { type: `xstate.done.actor.${payload.child}`, output: outcome });
    const failure: WorkflowRequestFailure =
      outcome.state === 'discarded'
        ? { name: 'ConversationDiscarded', message: `the request was discarded: ${outcome.reason}`, outcome }
        : { name: 'ConversationTimedOut', message: 'no reply came before the timeout', outcome };
    return this.#finish(payload.id, payload.child, payload.token, { type: `xstate.error.actor.${payload.child}`, error: failure });
  }

  // ——— correlations and envelope triggers ———

  async #link(correlation: string, link: CorrelationLink): Promise<void> {
    await this.#deps.kv.put(this.#deps.names.workflowCorrelationKey(correlation), JSON.stringify(link));
  }

  async #linkOf(correlation: string): Promise<CorrelationLink | undefined> {
    const entry = await this.#deps.kv.get(this.#deps.names.workflowCorrelationKey(correlation));
    if (!entry || entry.operation !== 'PUT' || entry.length === 0) return undefined;
    return entry.json<CorrelationLink>();
  }

  #triggerHandler(name: string, trigger: WorkflowTrigger): Handler {
    if ('start' in trigger) {
      return async ({ envelope, from, correlation, body }) => {
        const spec = trigger.start === true ? {} : trigger.start(envelope);
        const id = spec.id ?? `${from}/${correlation}`;
        let info: WorkflowInfo | undefined;
        try {
          info = await this.start(name, spec.input !== undefined ? spec.input : body, { id, correlation });
        } catch (error) {
          if (!(error instanceof WorkflowAlreadyExistsError)) throw error;
          // A redelivered envelope: the workflow it started is the answer.
          info = await this.get(id);
        }
        return { workflowId: id, status: info?.status ?? 'running', state: (info?.state ?? null) as never };
      };
    }
    return async ({ envelope, from, correlation, subject, body }) => {
      const spec = trigger.signal === true ? {} : trigger.signal(envelope);
      const id = spec.id ?? (await this.#linkOf(correlation))?.id;
      if (id === undefined) throw new FinalError(`no workflow belongs to correlation ${correlation}`, 'no-workflow');
      const event = spec.event ?? { type: subject, envelope: { from, correlation, body } };
      try {
        const info = await this.#send(id, event, `${from}/${correlation}/${subject}`);
        return { workflowId: id, status: info.status, state: info.state as never };
      } catch (error) {
        if (error instanceof WorkflowNotFoundError || error instanceof WorkflowNotRunningError || error instanceof InvalidWorkflowInputError) {
          throw new FinalError(error.message, 'workflow-refused', { cause: error });
        }
        throw error;
      }
    };
  }
}

/** Stops an activity attempt that the workflow no longer waits for. */
class ActivityCancelled extends Error {}

interface TimerPayload {
  readonly id: string;
  readonly key: string;
  readonly token: string;
  readonly seq: number;
  readonly createdAt: number;
}

interface TaskPayload {
  readonly id: string;
  readonly child: string;
  readonly token: string;
  readonly seq: number;
  readonly createdAt: number;
  readonly attempt: number;
}

interface ReplyPayload {
  readonly id: string;
  readonly child: string;
  readonly token: string;
  readonly from: string;
  readonly correlation: string;
}

