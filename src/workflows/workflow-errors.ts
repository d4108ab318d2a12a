import { MailroomError } from '../errors.ts';

/** No workflow has this ID. */
export class WorkflowNotFoundError extends MailroomError {
  readonly _tag = 'WorkflowNotFoundError';
  constructor(readonly workflowId: string) {
    super(`no workflow with id ${JSON.stringify(workflowId)}`);
  }
}

/** `workflows.start` with an ID that is taken. Workflow IDs are unique for good, also after a workflow ends. */
export class WorkflowAlreadyExistsError extends MailroomError {
  readonly _tag = 'WorkflowAlreadyExistsError';
  constructor(readonly workflowId: string) {
    super(`a workflow with id ${JSON.stringify(workflowId)} exists already`);
  }
}

/** No machine is registered under this workflow name (in this process). */
export class UnknownWorkflowError extends MailroomError {
  readonly _tag = 'UnknownWorkflowError';
  constructor(
    readonly workflowName: string,
    readonly registered: readonly string[],
  ) {
    super(`no workflow is registered as ${JSON.stringify(workflowName)}${registered.length ? ` (registered: ${registered.join(', ')})` : ' (none is registered)'}`);
  }
}

/** The workflow has ended (done, failed, cancelled) or is parked: it takes no events. */
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

/** An event, input or option that cannot be used: not an object with a string `type`, not JSON, an empty ID. */
export class InvalidWorkflowInputError extends MailroomError {
  readonly _tag = 'InvalidWorkflowInputError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** Thrown inside an activity whose attempt ran longer than its policy's `timeoutMs`. */
export class ActivityTimeoutError extends MailroomError {
  readonly _tag = 'ActivityTimeoutError';
  constructor(
    readonly activity: string,
    readonly timeoutMs: number,
  ) {
    super(`activity ${activity} did not finish within ${timeoutMs} ms`);
  }
}

/** `workflows.waitFor` gave up before the workflow reached what was asked. */
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
