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
 *
 * This class coordinates. The rooms: `plan-step.ts` (the step, pure: record and input in,
 * record and effects out) with `step-effects.ts` (the effects), `workflow-store.ts` (KV),
 * `workflow-registry.ts` (kinds and versions), `activity-runner.ts`, `request-bridge.ts`
 * (fromRequest conversations) and `workflow-triggers.ts` (envelopes that start or signal).
 */
import { randomUUID } from 'node:crypto';
import type { AnyStateMachine, EventObject } from 'xstate';
import type { KV } from '@nats-io/kv';
import type { Names } from '../transport/names.ts';
import type { Timers, TimerHandler } from '../runtime/timers.ts';
import type { Handler } from '../runtime/handlers.ts';
import { TransportError } from '../errors.ts';
import { backoffDelayMs, fullJitter, type RetryPolicy } from '../../machines/retry-policy.ts';
import { ActivityRunner } from './activity-runner.ts';
import { KeyedQueue } from './keyed-queue.ts';
import { planStart, planStep, planTask, isYoung, type Step, type StepInput } from './plan-step.ts';
import { resumeEffects, type StepEffect } from './step-effects.ts';
import { RequestBridge, type RequestBridgeDeps } from './request-bridge.ts';
import { WorkflowRegistry } from './workflow-registry.ts';
import { WorkflowStore } from './workflow-store.ts';
import { triggerHandler, type TriggerTarget } from './workflow-triggers.ts';
import { InvalidWorkflowInputError, UnknownWorkflowError, WorkflowNotFoundError } from './workflow-errors.ts';
import { WORKFLOW_REPLY, WORKFLOW_TASK, WORKFLOW_TIMER, checkEvent, jsonCopy, matchesFilter, toInfo, type ChildEvent, type ReplyPayload, type TaskPayload, type TimerPayload, type WorkflowRecord } from './workflow-record.ts';
import type { RegisteredWorkflow, WorkflowChange, WorkflowEvent, WorkflowFilter, WorkflowInfo, WorkflowOptions, WorkflowStatus, Workflows } from './workflow-types.ts';

export { registrationOf } from './workflow-registry.ts';
export { WORKFLOW_REPLY, WORKFLOW_TASK, WORKFLOW_TIMER } from './workflow-record.ts';

/**
 * Storing a step that lost its revision check (another process stored one first): read and
 * plan again, up to 25 times, after a full-jittered pause of up to 1, 2, 4, … ms, at most 50.
 * @internal
 */
export const REVISION_CONFLICT: RetryPolicy = { maxAttempts: 25, initialDelayMs: 1, multiplier: 2, maxDelayMs: 50 };

type Advanced = { kind: 'applied' | 'drop' | 'later' | 'elsewhere'; record: WorkflowRecord } | { kind: 'missing' };

/** What the engine needs from the runtime. */
export interface WorkflowEngineDeps {
  readonly kv: KV;
  readonly names: Names;
  readonly timers: Timers;
  /** The task queue (activities), apart from the timers so long activities never hold a timer back. */
  readonly tasks: Timers;
  readonly now: () => number;
  /** Starts a request's conversation; its `link` comes back to {@link WorkflowEngine.conversationFinished}. See {@link RequestBridgeDeps}. */
  readonly request: RequestBridgeDeps['request'];
  readonly conversation: RequestBridgeDeps['conversation'];
  readonly registerHandler: (domain: string, subject: string, handler: Handler) => void;
  readonly onError: (error: unknown, context: string) => void;
}

/** The engine behind `mailroom.workflows`. */
export class WorkflowEngine implements Workflows {
  readonly #deps: WorkflowEngineDeps;
  readonly #registry = new WorkflowRegistry();
  readonly #store: WorkflowStore;
  readonly #activities: ActivityRunner;
  readonly #requests: RequestBridge;
  readonly #triggers: TriggerTarget;
  readonly #queue = new KeyedQueue();
  readonly #listeners = new Set<(change: WorkflowChange) => void>();

  constructor(deps: WorkflowEngineDeps) {
    this.#deps = deps;
    this.#store = new WorkflowStore(deps.kv, deps.names);
    this.#activities = new ActivityRunner({ tasks: deps.tasks, now: deps.now, onError: deps.onError });
    this.#requests = new RequestBridge({ request: deps.request, conversation: deps.conversation, timers: deps.timers, store: this.#store, now: deps.now });
    this.#triggers = {
      start: (name, input, options) => this.start(name, input, options),
      get: (id) => this.get(id),
      signal: (id, event, dedupeKey) => this.#send(id, event, dedupeKey),
      workflowOf: async (correlation) => (await this.#store.linkOf(correlation))?.id,
    };
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
    const { name, version } = this.#registry.add(machine, options);
    for (const trigger of options.triggers ?? []) this.#deps.registerHandler(trigger.domain, trigger.subject, triggerHandler(this.#triggers, name, trigger));
    return { name, version, machine };
  }

  registered(): RegisteredWorkflow[] {
    return this.#registry.registered();
  }

  onChange(listener: (change: WorkflowChange) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  async start(name: string, input?: unknown, options: { readonly id?: string; readonly correlation?: string } = {}): Promise<WorkflowInfo> {
    const definition = this.#registry.kind(name)?.latest;
    if (!definition) throw new UnknownWorkflowError(name, this.#registry.names());
    if (typeof options !== 'object' || options === null) throw new InvalidWorkflowInputError(`the options of workflows.start must be an object like { id: 'order-1' }, got ${JSON.stringify(options)}`);
    const id = options.id ?? randomUUID();
    if (typeof id !== 'string' || id.length === 0) throw new InvalidWorkflowInputError('a workflow id must be a non-empty string');
    const step = planStart(definition, id, input, this.#deps.now());
    return this.#queue.run(id, async () => {
      await this.#publish(step.effects);
      await this.#store.create(step.record);
      if (options.correlation !== undefined) await this.#store.link(options.correlation, { id });
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
    const result = await this.#advance(id, { type: 'event', event: json, ...(dedupeKey !== undefined ? { dedupeKey } : {}) });
    if (result.kind === 'missing') throw new WorkflowNotFoundError(id);
    if (result.kind === 'elsewhere') throw new UnknownWorkflowError(result.record.name, this.#registry.names());
    return toInfo(result.record);
  }

  async get(id: string): Promise<WorkflowInfo | undefined> {
    const record = await this.#store.get(id);
    return record ? toInfo(record) : undefined;
  }

  async list(filter: WorkflowFilter = {}): Promise<WorkflowInfo[]> {
    const records = (await this.#store.all()).filter((record) => matchesFilter(record, filter));
    return records.map(toInfo).sort((a, b) => a.createdAt - b.createdAt || a.id.localeCompare(b.id));
  }

  async cancel(id: string, reason = 'cancelled'): Promise<WorkflowInfo> {
    const result = await this.#advance(id, { type: 'cancel', reason });
    if (result.kind === 'missing') throw new WorkflowNotFoundError(id);
    return toInfo(result.record);
  }

  async resume(id: string): Promise<WorkflowInfo> {
    const result = await this.#advance(id, { type: 'resume' });
    if (result.kind === 'missing') throw new WorkflowNotFoundError(id);
    if (result.kind === 'applied' && result.record.status === 'running') await this.#publish(resumeEffects(result.record, this.#deps.now()));
    return toInfo(result.record);
  }

  async waitFor(id: string, until: WorkflowStatus | ((info: WorkflowInfo) => boolean), options: { readonly timeoutMs?: number } = {}): Promise<WorkflowInfo> {
    const timeoutMs = options.timeoutMs ?? 30_000;
    const test = typeof until === 'function' ? until : (info: WorkflowInfo) => info.status === until;
    return this.#store.waitFor(id, test, timeoutMs);
  }

  /** The conversations hook: a request a workflow made (its `link`, a {@link ReplyPayload}) has ended; wake the workflow. */
  conversationFinished(link: Readonly<Record<string, string>>): Promise<void> {
    return this.#requests.finished(link);
  }

  // ——— steps ———

  /** Reads, plans the step, publishes its timers and tasks, and stores it with a revision check; again on a conflict. */
  #advance(id: string, input: StepInput): Promise<Advanced> {
    return this.#queue.run(id, async () => {
      for (let attempt = 1; attempt <= REVISION_CONFLICT.maxAttempts; attempt++) {
        const stored = await this.#store.read(id);
        if (!stored) return { kind: 'missing' } as const;
        const { record, revision } = stored;
        const plan = planStep(record, this.#registry.kind(record.name), input, this.#deps.now());
        if (plan.outcome === 'refused') throw plan.error;
        if (plan.outcome !== 'applied') return { kind: plan.outcome, record };
        await this.#publish(plan.effects);
        if (!(await this.#store.update(plan.record, revision))) {
          // Another process stored a step first. Back off a little (random, growing), so two
          // busy writers do not keep colliding until the attempts run out.
          await new Promise((resolve) => setTimeout(resolve, fullJitter(backoffDelayMs(REVISION_CONFLICT, attempt))));
          continue;
        }
        this.#afterCommit(plan, plan.label);
        return { kind: 'applied', record: plan.record };
      }
      throw new TransportError(`workflow ${id}: too many concurrent updates`);
    });
  }

  /** The effects that go before the record is stored: timers and tasks. */
  async #publish(effects: readonly StepEffect[]): Promise<void> {
    for (const effect of effects) {
      if (effect.type === 'schedule-timer') await this.#deps.timers.schedule(WORKFLOW_TIMER, effect.msgId, effect.due, effect.payload);
      else if (effect.type === 'schedule-task') await this.#deps.tasks.schedule(WORKFLOW_TASK, effect.msgId, effect.due, effect.payload);
    }
  }

  /** The effects that go after the record is stored, then the change listeners. */
  #afterCommit(step: Step, label: string): void {
    const record = step.record;
    for (const effect of step.effects) {
      switch (effect.type) {
        case 'schedule-timer':
        case 'schedule-task':
          break;
        case 'stop-activity':
          this.#activities.stop(effect.token);
          break;
        case 'report':
          this.#deps.onError(effect.error, effect.context);
          break;
        case 'run-action':
          try {
            (effect.action.exec as (info: unknown, params: unknown) => void)(effect.action.info, effect.action.params);
          } catch (error) {
            this.#deps.onError(error, `workflow ${record.id}: action ${effect.action.type}`);
          }
          break;
        default:
          effect satisfies never;
      }
    }
    const change: WorkflowChange = { id: record.id, name: record.name, status: record.status, state: record.snapshot.value, seq: record.seq, event: label, at: record.updatedAt };
    for (const listener of this.#listeners) {
      try {
        listener(change);
      } catch (error) {
        this.#deps.onError(error, 'workflows: change listener');
      }
    }
  }

  /** Again in a second, maybe in another process: this one does not run the workflow's kind. */
  #elsewhere(): { retryAt: number } {
    return { retryAt: this.#deps.now() + 1_000 };
  }

  /** Again shortly: the step that published this is normally stored within milliseconds. */
  #later(): { retryAt: number } {
    return { retryAt: this.#deps.now() + 25 };
  }

  // ——— timers, tasks, replies ———

  async #fireTimer(payload: TimerPayload): Promise<void | { retryAt: number }> {
    const result = await this.#advance(payload.id, { type: 'timer', timer: payload });
    if (result.kind === 'later' || (result.kind === 'missing' && isYoung(payload, this.#deps.now()))) return this.#later();
    if (result.kind === 'elsewhere') return this.#elsewhere();
  }

  /** Delivers an activity's or request's end to its workflow, if the workflow still waits for that very run. */
  async #finish(payload: { readonly id: string; readonly child: string; readonly token: string }, event: ChildEvent): Promise<void | { retryAt: number }> {
    const result = await this.#advance(payload.id, { type: 'finished', child: payload.child, token: payload.token, event });
    if (result.kind === 'elsewhere') return this.#elsewhere();
  }

  async #runTask(payload: TaskPayload): Promise<void | { retryAt: number }> {
    const record = await this.#store.readAtLeast(payload.id, payload.seq);
    // Published just before the workflow's first step was stored: it may not be visible yet.
    if (!record) return isYoung(payload, this.#deps.now()) ? this.#later() : undefined;
    const task = planTask(record, this.#registry.kind(record.name), payload, this.#deps.now());
    switch (task.outcome) {
      case 'drop':
        return;
      case 'later':
        return this.#later();
      case 'elsewhere':
        return this.#elsewhere();
      case 'finish':
        if ('restoreError' in task) this.#deps.onError(task.restoreError, `workflow ${record.id}: restoring for activity ${payload.child}`);
        return this.#finish(payload, task.event);
      case 'request': {
        const failed = await this.#requests.start(payload, task.activity);
        if (failed) return this.#finish(payload, failed);
        return;
      }
      case 'run': {
        const event = await this.#activities.run(payload, task);
        if (event) return this.#finish(payload, event);
        return;
      }
    }
  }

  async #fireReply(payload: ReplyPayload): Promise<void | { retryAt: number }> {
    const reply = await this.#requests.outcome(payload);
    if (!reply || 'retryAt' in reply) return reply;
    return this.#finish(payload, reply.event);
  }
}
