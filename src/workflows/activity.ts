import { AsyncLocalStorage } from 'node:async_hooks';
import { fromPromise, type PromiseActorLogic } from 'xstate';
import type { Envelope } from '../envelope/types.ts';
import type { ConversationOutcome } from '../../machines/conversation.machine.ts';
import { backoffDelayMs, type RetryPolicy } from '../../machines/retry-policy.ts';

/** How an activity is retried. Every field has a default; see {@link defaultActivityPolicy}. */
export interface ActivityPolicy {
  /** Attempts in all, the first included (default 3). */
  readonly maxAttempts: number;
  /** Delay before the second attempt (default 1 s). */
  readonly initialDelayMs: number;
  /** Each further delay is the previous one times this (default 2). */
  readonly backoff: number;
  /** The longest delay between attempts (default 60 s). */
  readonly maxDelayMs: number;
  /** An attempt that runs longer fails with `ActivityTimeoutError` and its signal is aborted (default: none). */
  readonly timeoutMs?: number;
}

/** The policy of an activity that states none: 3 attempts, 1 s then 2 s apart (doubling, at most 60 s), no timeout. */
export const defaultActivityPolicy: ActivityPolicy = { maxAttempts: 3, initialDelayMs: 1_000, backoff: 2, maxDelayMs: 60_000 };

/** An activity's policy as the retry policy takes it (`backoff` is its `multiplier`), for `nextAttempt`. */
export function retryPolicyOf(policy: ActivityPolicy): RetryPolicy {
  return { maxAttempts: policy.maxAttempts, initialDelayMs: policy.initialDelayMs, maxDelayMs: policy.maxDelayMs, multiplier: policy.backoff };
}

/** The delay before attempt `attempt + 1` under `policy`: the retry policy's backoff, not rounded, not jittered (a durable timer). */
export function retryDelay(policy: ActivityPolicy, attempt: number): number {
  return backoffDelayMs(retryPolicyOf(policy), attempt);
}

/** What an activity knows of its own run. */
export interface ActivityContext {
  readonly workflowId: string;
  /** The ID of the invoked actor in the machine. */
  readonly activity: string;
  /** 1-based attempt. */
  readonly attempt: number;
  /**
   * The same for every attempt of one invocation, across restarts and processes: pass it
   * downstream (a payment provider's `Idempotency-Key`) so a retried attempt is not done twice.
   */
  readonly idempotencyKey: string;
}

const storage = new AsyncLocalStorage<ActivityContext>();

/** Runs `fn` with `context` as the current activity context. For the engine. */
export function runInActivity<T>(context: ActivityContext, fn: () => T): T {
  return storage.run(context, fn);
}

/**
 * The context of the activity running now (workflow ID, attempt, idempotency key), from
 * inside any promise actor the workflow engine runs; `undefined` elsewhere.
 */
export function activityContext(): ActivityContext | undefined {
  return storage.getStore();
}

/** What an {@link activity} function receives: its input, an abort signal (timeout, cancellation) and its context. */
export interface ActivityArgs<TInput> extends ActivityContext {
  readonly input: TInput;
  readonly signal: AbortSignal;
}

const POLICY = Symbol.for('mailroom.activity.policy');
const REQUEST = Symbol.for('mailroom.workflow.request');

/** The retry policy attached to actor logic by {@link activity}, if any. */
export function policyOf(logic: unknown): Partial<ActivityPolicy> | undefined {
  return typeof logic === 'object' && logic !== null ? (logic as { [POLICY]?: Partial<ActivityPolicy> })[POLICY] : undefined;
}

/**
 * A promise actor for a durable workflow, with its retry policy and its
 * {@link ActivityContext}. Any `fromPromise` actor is an activity too; this one also
 * states its policy and receives the context as an argument.
 *
 * @example
 * ```ts
 * const charge = activity(async ({ input, idempotencyKey, signal }) => payments.charge(input.amount, { idempotencyKey, signal }), {
 *   maxAttempts: 5,
 *   timeoutMs: 10_000,
 * });
 * ```
 */
export function activity<TOutput, TInput = unknown>(
  run: (args: ActivityArgs<TInput>) => PromiseLike<TOutput>,
  policy: Partial<ActivityPolicy> = {},
): PromiseActorLogic<TOutput, TInput> {
  const logic = fromPromise<TOutput, TInput>(({ input, signal }) => {
    const context = storage.getStore() ?? { workflowId: '', activity: '', attempt: 1, idempotencyKey: crypto.randomUUID() };
    return run({ input, signal, ...context });
  });
  Object.defineProperty(logic, POLICY, { value: Object.freeze({ ...policy }) });
  return logic;
}

/** The input of a {@link fromRequest} actor: an envelope to another domain, and how long to wait for its reply. */
export interface WorkflowRequest {
  /** The local domain that signs the request. */
  readonly from: string;
  readonly to: string;
  readonly subject: string;
  readonly body?: Envelope['Body'];
  /** How long the conversation waits for the reply (default 30 s); a durable timer. */
  readonly timeoutMs?: number;
}

/** The error event's `error` when a {@link fromRequest} conversation ends without a reply. */
export interface WorkflowRequestFailure {
  readonly name: 'ConversationDiscarded' | 'ConversationTimedOut';
  readonly message: string;
  readonly outcome: ConversationOutcome;
}

/**
 * An actor that sends a signed envelope to another domain and finishes with its reply
 * (`onDone`, `event.output` is the replied outcome); a discard or a timeout is its error
 * (`onError`, `event.error` is a {@link WorkflowRequestFailure}). Inside a workflow it is a
 * durable conversation: the workflow holds no memory while it waits, and the reply may
 * arrive in any process, after any restart.
 *
 * @example
 * ```ts
 * actors: { reserveStock: fromRequest() },
 * // ...
 * invoke: { src: 'reserveStock', input: ({ context }) => ({ from: 'shop.example', to: 'warehouse.example', subject: 'Reserve@Warehouse', body: { sku: context.sku } }), onDone: 'charging', onError: 'cancelled' }
 * ```
 */
export function fromRequest(): PromiseActorLogic<Extract<ConversationOutcome, { state: 'replied' }>, WorkflowRequest> {
  const logic = fromPromise<Extract<ConversationOutcome, { state: 'replied' }>, WorkflowRequest>(() =>
    Promise.reject(new Error('fromRequest() actors run only inside a Mailroom workflow (mailroom.workflows.start)')),
  );
  Object.defineProperty(logic, REQUEST, { value: true });
  return logic;
}

/** True for logic made by {@link fromRequest}. */
export function isRequestLogic(logic: unknown): boolean {
  return typeof logic === 'object' && logic !== null && (logic as { [REQUEST]?: boolean })[REQUEST] === true;
}
