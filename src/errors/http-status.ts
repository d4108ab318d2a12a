import type { ConfigError, InspectionFilterError, TypeScriptModuleError } from './config-errors.ts';
import type { MailroomNotStartedError } from './lifecycle-errors.ts';
import type { CryptoPoolError, SsrfBlockedError } from './delivery-errors.ts';
import type { EnvelopeDraftError } from './envelope-errors.ts';
import type { FinalError, HandlerStoppedError, HandlerTimeoutError, MissingSigningKeyError, RetryableError, UnknownSubjectError } from './handler-errors.ts';
import type { DnsQueryError, KeyFormatError, KeyLookupError } from './key-errors.ts';
import type { AlreadyRunningError, InvalidNameError, NatsServerError, TransportError } from './transport-errors.ts';
import type {
  ActivityCancelledError,
  ActivityTimeoutError,
  InvalidWorkflowInputError,
  UnknownWorkflowError,
  WorkflowAlreadyExistsError,
  WorkflowNotFoundError,
  WorkflowNotRunningError,
  WorkflowWaitTimeoutError,
} from './workflow-errors.ts';

/** Every error class of `src/errors/`, as a union tagged by `_tag`. */
export type KnownError =
  | ConfigError
  | TypeScriptModuleError
  | InspectionFilterError
  | MailroomNotStartedError
  | KeyFormatError
  | KeyLookupError
  | DnsQueryError
  | TransportError
  | NatsServerError
  | AlreadyRunningError
  | InvalidNameError
  | RetryableError
  | FinalError
  | HandlerTimeoutError
  | HandlerStoppedError
  | UnknownSubjectError
  | MissingSigningKeyError
  | EnvelopeDraftError
  | SsrfBlockedError
  | CryptoPoolError
  | WorkflowNotFoundError
  | WorkflowAlreadyExistsError
  | UnknownWorkflowError
  | WorkflowNotRunningError
  | InvalidWorkflowInputError
  | ActivityTimeoutError
  | ActivityCancelledError
  | WorkflowWaitTimeoutError;

// A record, not a list: adding a class to the union without its tag here does not compile.
const TAGS: Readonly<Record<KnownError['_tag'], true>> = {
  ConfigError: true,
  TypeScriptModuleError: true,
  InspectionFilterError: true,
  MailroomNotStartedError: true,
  KeyFormatError: true,
  KeyLookupError: true,
  DnsQueryError: true,
  TransportError: true,
  NatsServerError: true,
  AlreadyRunningError: true,
  InvalidNameError: true,
  RetryableError: true,
  FinalError: true,
  HandlerTimeoutError: true,
  HandlerStoppedError: true,
  UnknownSubjectError: true,
  MissingSigningKeyError: true,
  EnvelopeDraftError: true,
  SsrfBlockedError: true,
  CryptoPoolError: true,
  WorkflowNotFoundError: true,
  WorkflowAlreadyExistsError: true,
  UnknownWorkflowError: true,
  WorkflowNotRunningError: true,
  InvalidWorkflowInputError: true,
  ActivityTimeoutError: true,
  ActivityCancelledError: true,
  WorkflowWaitTimeoutError: true,
};

/** True for an error of one of the classes in `src/errors/` (by its `_tag`, so a copy from another module instance counts too). */
export function isKnownError(error: unknown): error is KnownError {
  if (!(error instanceof Error)) return false;
  const tag = (error as { _tag?: unknown })._tag;
  return typeof tag === 'string' && Object.hasOwn(TAGS, tag);
}

/** The HTTP answer for an error a route may pass on: its status and its problem `error` code. */
export interface HttpProblem {
  readonly status: 400 | 404 | 409;
  readonly error: 'bad-request' | 'not-found' | 'conflict';
}

const BAD_REQUEST: HttpProblem = { status: 400, error: 'bad-request' };
const NOT_FOUND: HttpProblem = { status: 404, error: 'not-found' };
const CONFLICT: HttpProblem = { status: 409, error: 'conflict' };

/**
 * The HTTP answer for `error`: a problem for a caller's mistake, `undefined` for everything
 * else (the route rethrows it and the server answers 500). An exhaustive switch on `_tag`: a
 * new error class does not compile until it is given its answer here.
 *
 * `ConfigError` is a 400; the conversation route names it `not-local` (a `from` this runtime
 * does not host), the one place it reaches HTTP today.
 *
 * @example
 * ```ts
 * } catch (error) {
 *   const answer = httpStatusOf(error);
 *   if (!answer) throw error;
 *   return problem(reply, answer.status, answer.error, (error as Error).message);
 * }
 * ```
 */
export function httpStatusOf(error: unknown): HttpProblem | undefined {
  if (!isKnownError(error)) return undefined;
  switch (error._tag) {
    case 'WorkflowNotFoundError':
      return NOT_FOUND;
    case 'WorkflowNotRunningError':
    case 'WorkflowAlreadyExistsError':
      return CONFLICT;
    case 'InvalidWorkflowInputError':
    case 'UnknownWorkflowError':
    case 'ConfigError':
      return BAD_REQUEST;
    // Faults of the runtime, not of the request, and errors that never reach a route.
    case 'TypeScriptModuleError':
    case 'InspectionFilterError':
    case 'MailroomNotStartedError':
    case 'KeyFormatError':
    case 'KeyLookupError':
    case 'DnsQueryError':
    case 'TransportError':
    case 'NatsServerError':
    case 'AlreadyRunningError':
    case 'InvalidNameError':
    case 'RetryableError':
    case 'FinalError':
    case 'HandlerTimeoutError':
    case 'HandlerStoppedError':
    case 'UnknownSubjectError':
    case 'MissingSigningKeyError':
    case 'EnvelopeDraftError':
    case 'SsrfBlockedError':
    case 'CryptoPoolError':
    case 'ActivityTimeoutError':
    case 'ActivityCancelledError':
    case 'WorkflowWaitTimeoutError':
      return undefined;
    default: {
      const never: never = error;
      throw new Error(`no HTTP status for ${(never as { _tag: string })._tag}`);
    }
  }
}
