/**
 * Every tagged error class Mailroom's runtime throws, in one place, each with its contract
 * (when it is thrown, what the runtime does with it, its HTTP status). The old module paths
 * (`src/errors.ts`, `runtime/handlers.ts`, `workflows/workflow-errors.ts`, ...) re-export
 * from here.
 *
 * Two kinds steer what happens to an envelope or an activity (compare restate's
 * `TerminalError` and `RetryableError`): {@link FinalError} (and every class with
 * `retryable: false`) is never retried; anything else a step rejects with is retried with
 * backoff, after {@link RetryableError}'s `retryAfterMs` when it gives one.
 *
 * Kept beside their callers: the CLI's `CliUsageError` and `AdminTokenError` (exit codes,
 * `src/cli/io.ts`) and `TestClockSettleError` (`mailroom/testing`).
 */
export { MailroomError } from './mailroom-error.ts';
export { ConfigError, TypeScriptModuleError, InspectionFilterError } from './config-errors.ts';
export { MailroomNotStartedError } from './lifecycle-errors.ts';
export { KeyFormatError, KeyLookupError, DnsQueryError, type DnsFailure } from './key-errors.ts';
export { TransportError, NatsServerError, AlreadyRunningError, InvalidNameError } from './transport-errors.ts';
export { RetryableError, FinalError, HandlerTimeoutError, HandlerStoppedError, UnknownSubjectError, MissingSigningKeyError, HANDLER_TIMEOUT } from './handler-errors.ts';
export { EnvelopeDraftError } from './envelope-errors.ts';
export { SsrfBlockedError, CryptoPoolError } from './delivery-errors.ts';
export {
  WorkflowNotFoundError,
  WorkflowAlreadyExistsError,
  UnknownWorkflowError,
  WorkflowNotRunningError,
  InvalidWorkflowInputError,
  ActivityTimeoutError,
  ActivityCancelledError,
  WorkflowWaitTimeoutError,
} from './workflow-errors.ts';
export { httpStatusOf, isKnownError, type KnownError, type HttpProblem } from './http-status.ts';
