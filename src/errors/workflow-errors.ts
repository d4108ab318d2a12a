import { MailroomError } from './mailroom-error.ts';

/**
 * No workflow has this ID.
 *
 * - Thrown by `workflows.send` / `cancel` / `resume` (and their HTTP routes).
 * - Final for that call; nothing is stored.
 * - HTTP: 404 `not-found`.
 */
export class WorkflowNotFoundError extends MailroomError {
  readonly _tag = 'WorkflowNotFoundError';
  constructor(readonly workflowId: string) {
    super(`no workflow with id ${JSON.stringify(workflowId)}`);
  }
}

/**
 * `workflows.start` with an ID that is taken. Workflow IDs are unique for good, also after a workflow ends.
 *
 * - Thrown by `workflows.start` when the KV create finds the key (JetStream "wrong last sequence").
 * - Final for that call; the existing workflow is untouched.
 * - HTTP: 409 `conflict`.
 */
export class WorkflowAlreadyExistsError extends MailroomError {
  readonly _tag = 'WorkflowAlreadyExistsError';
  constructor(readonly workflowId: string) {
    super(`a workflow with id ${JSON.stringify(workflowId)} exists already`);
  }
}

/**
 * No machine is registered under this workflow name (in this process).
 *
 * - Thrown by `workflows.start` for an unknown name.
 * - Final for that call.
 * - HTTP: 400 `bad-request`.
 */
export class UnknownWorkflowError extends MailroomError {
  readonly _tag = 'UnknownWorkflowError';
  constructor(
    readonly workflowName: string,
    readonly registered: readonly string[],
  ) {
    super(`no workflow is registered as ${JSON.stringify(workflowName)}${registered.length ? ` (registered: ${registered.join(', ')})` : ' (none is registered)'}`);
  }
}

/**
 * The workflow has ended (done, failed, cancelled) or is parked: it takes no events.
 *
 * - Thrown by `workflows.send` / `cancel` / `resume` on such a workflow.
 * - Final for that call.
 * - HTTP: 409 `conflict`.
 */
export class WorkflowNotRunningError extends MailroomError {
  readonly _tag = 'WorkflowNotRunningError';
  constructor(
    readonly workflowId: string,
    readonly status: string,
    detail?: string,
  ) {
    super(`workflow ${JSON.stringify(workflowId)} is ${status}${detail ? `: ${detail}` : ''}; it takes no events`);
  }
}

/**
 * An event, input or option that cannot be used: not an object with a string `type`, not JSON, an empty ID.
 *
 * - Thrown by the workflow API before anything is stored.
 * - Final for that call.
 * - HTTP: 400 `bad-request`.
 */
export class InvalidWorkflowInputError extends MailroomError {
  readonly _tag = 'InvalidWorkflowInputError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/**
 * Thrown inside an activity whose attempt ran longer than its policy's `timeoutMs`.
 *
 * - The activity's signal is aborted with it.
 * - Retryable: the attempt fails and is retried under the activity's policy, until its attempts run out.
 * - HTTP: none.
 */
export class ActivityTimeoutError extends MailroomError {
  readonly _tag = 'ActivityTimeoutError';
  constructor(
    readonly activity: string,
    readonly timeoutMs: number,
  ) {
    super(`activity ${activity} did not finish within ${timeoutMs} ms`);
  }
}

/**
 * Ends an activity attempt that its workflow no longer waits for: the workflow left the state
 * that invoked it, or was cancelled, and the step that did so stopped the attempt.
 *
 * - Thrown (as the attempt's rejection) by the activity runner when it stops the attempt; the
 *   activity's actor is stopped, so its signal is aborted.
 * - Final, and silent: the attempt is not retried, nothing is reported, and no event goes to the
 *   workflow (it has moved on).
 * - HTTP: none; it never leaves the activity runner.
 */
export class ActivityCancelledError extends MailroomError {
  readonly _tag = 'ActivityCancelledError';
  constructor(
    readonly activity: string,
    readonly workflowId: string,
    readonly token: string,
  ) {
    super(`activity ${activity} of workflow ${JSON.stringify(workflowId)} was stopped: the workflow no longer waits for it`);
  }
}

/**
 * `workflows.waitFor` gave up before the workflow reached what was asked.
 *
 * - Thrown (as a rejection) by `workflows.waitFor`; the workflow itself is not affected.
 * - HTTP: none of its own (500).
 */
export class WorkflowWaitTimeoutError extends MailroomError {
  readonly _tag = 'WorkflowWaitTimeoutError';
  constructor(
    readonly workflowId: string,
    readonly timeoutMs: number,
    readonly last: { status: string; state: unknown } | undefined,
  ) {
    super(`workflow ${JSON.stringify(workflowId)} did not reach the awaited condition within ${timeoutMs} ms (last: ${last ? `${last.status} ${JSON.stringify(last.state)}` : 'not found'})`);
  }
}
