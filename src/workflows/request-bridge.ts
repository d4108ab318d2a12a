/**
 * A {@link fromRequest} actor as a conversation: the task that starts it signs and sends the
 * request, links its correlation to the workflow, and sets a safety timer; when the
 * conversation ends, its outcome becomes the actor's done or error event.
 */
import type { Timers } from '../runtime/timers.ts';
import type { ConversationOutcome } from '../../machines/conversation.machine.ts';
import type { ConversationRecord } from '../runtime/conversations.ts';
import type { WorkflowRequest, WorkflowRequestFailure } from './activity.ts';
import { WORKFLOW_REPLY, errorInfo, type ActivityEntry, type ChildEvent, type ReplyPayload, type TaskPayload } from './workflow-record.ts';
import type { WorkflowStore } from './workflow-store.ts';

/** How long after a request's timeout the engine looks at its conversation itself, if nobody woke it. */
const REPLY_SAFETY_MS = 2_000;

/** What the bridge needs from the runtime. */
export interface RequestBridgeDeps {
  /** Starts a conversation (idempotent for one correlation): signs and sends the request. Returns when it times out. */
  /** `link` goes with the conversation and comes back to {@link RequestBridge.finished} when it ends. */
  readonly request: (request: WorkflowRequest & { readonly correlation: string; readonly link: Readonly<Record<string, string>> }) => Promise<{ readonly timeoutAt: number }>;
  readonly conversation: (from: string, correlation: string) => Promise<ConversationRecord | undefined>;
  readonly timers: Timers;
  readonly store: WorkflowStore;
  readonly now: () => number;
}

/** The event a workflow's request actor ends with, for the outcome of its conversation. */
export function outcomeEvent(child: string, outcome: ConversationOutcome): ChildEvent {
  if (outcome.state === 'replied') return { type: `xstate.done.actor.${child}`, output: outcome };
  const failure: WorkflowRequestFailure =
    outcome.state === 'discarded'
      ? { name: 'ConversationDiscarded', message: `the request was discarded: ${outcome.reason}`, outcome }
      : { name: 'ConversationTimedOut', message: 'no reply came before the timeout', outcome };
  return { type: `xstate.error.actor.${child}`, error: failure };
}

/** Requests of workflows, in and out of conversations. */
export class RequestBridge {
  readonly #deps: RequestBridgeDeps;

  constructor(deps: RequestBridgeDeps) {
    this.#deps = deps;
  }

  /** Sends the request of a task. Resolves with the actor's error event when it cannot be sent, else undefined (the reply comes later). */
  async start(payload: TaskPayload, activity: ActivityEntry): Promise<ChildEvent | undefined> {
    const input = activity.input as Partial<WorkflowRequest> | null;
    if (!input || typeof input.from !== 'string' || typeof input.to !== 'string' || typeof input.subject !== 'string') {
      return { type: `xstate.error.actor.${payload.child}`, error: { name: 'InvalidRequest', message: 'a fromRequest() actor needs an input with from, to and subject' } };
    }
    const correlation = payload.token;
    // For envelopes the asked domain sends later under this correlation (signal triggers).
    await this.#deps.store.link(correlation, { id: payload.id, child: payload.child, token: payload.token });
    const link: ReplyPayload = { id: payload.id, child: payload.child, token: payload.token, from: input.from, correlation };
    let timeoutAt: number;
    try {
      ({ timeoutAt } = await this.#deps.request({ ...(input as WorkflowRequest), correlation, link: { ...link } }));
    } catch (error) {
      return { type: `xstate.error.actor.${payload.child}`, error: errorInfo(error) };
    }
    // The fallback, should the process that ends the conversation die before it wakes this workflow.
    await this.#deps.timers.schedule(WORKFLOW_REPLY, `${payload.id}/${payload.token}/safety`, timeoutAt + REPLY_SAFETY_MS, link);
    return undefined;
  }

  /** The event for a {@link WORKFLOW_REPLY} timer: the conversation's outcome; `retryAt` while it has none; undefined when it is gone. */
  async outcome(payload: ReplyPayload): Promise<{ readonly event: ChildEvent } | { readonly retryAt: number } | undefined> {
    const conversation = await this.#deps.conversation(payload.from, payload.correlation);
    if (!conversation) return undefined;
    const outcome: ConversationOutcome | undefined = conversation.output;
    if (!outcome) return { retryAt: this.#deps.now() + 1_000 };
    return { event: outcomeEvent(payload.child, outcome) };
  }

  /** The conversations hook: a request a workflow made (its `link`, a {@link ReplyPayload}) has ended; wake the workflow. */
  async finished(link: Readonly<Record<string, string>>): Promise<void> {
    const { id, child, token, from, correlation } = link;
    if (!id || !child || !token || !from || !correlation) return;
    await this.#deps.timers.schedule(WORKFLOW_REPLY, `${id}/${token}/done`, this.#deps.now(), { id, child, token, from, correlation } satisfies ReplyPayload);
  }
}
