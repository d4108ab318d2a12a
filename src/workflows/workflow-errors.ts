/** The workflow errors live in `src/errors/workflow-errors.ts`; this path re-exports them. */
export {
  WorkflowNotFoundError,
  WorkflowAlreadyExistsError,
  UnknownWorkflowError,
  WorkflowNotRunningError,
  InvalidWorkflowInputError,
  ActivityTimeoutError,
  ActivityCancelledError,
  WorkflowWaitTimeoutError,
} from '../errors/workflow-errors.ts';
