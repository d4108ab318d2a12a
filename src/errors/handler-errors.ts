import { MailroomError } from './mailroom-error.ts';

/** The reason a handler that ran past its timeout fails with (in the status and the dead letter). */
export const HANDLER_TIMEOUT = 'handler-timeout';

/**
 * Throw from a handler for a transient fault: the envelope is retried later with backoff.
 *
 * - Thrown by application handlers (and activities).
 * - Retryable: the envelope is naked after `retryAfterMs` (when given; otherwise the
 *   subject's backoff), with jitter, and dead-lettered (`max-attempts`) when its attempts run
 *   out. Any other rejection without `retryable: false` is treated the same way.
 * - HTTP: none (handlers run after the inbox answered 202).
 */
export class RetryableError extends MailroomError {
  readonly _tag = 'RetryableError';
  readonly retryable = true;
  constructor(
    message: string,
    readonly retryAfterMs?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/**
 * Throw from a handler to refuse an envelope for good: it is discarded with `reason`, and feedback is sent.
 *
 * - Thrown by application handlers; inside a workflow, by an activity that must not be retried.
 * - Final (`retryable: false`): no retry; the envelope is discarded (status `discarded`,
 *   `source: 'handler'`) and the sender gets feedback. An activity fails at once.
 * - HTTP: none (handlers run after the inbox answered 202).
 */
export class FinalError extends MailroomError {
  readonly _tag = 'FinalError';
  readonly retryable = false;
  constructor(
    message: string,
    readonly reason: string = 'handler-refused',
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/**
 * A handler ran longer than its subject's `handlerTimeout`. The attempt fails as retryable
 * (reason `handler-timeout`): the envelope is retried with backoff, and dead-lettered when
 * its attempts run out. It is also the handler's `signal.reason`.
 *
 * - HTTP: none.
 */
export class HandlerTimeoutError extends MailroomError {
  readonly _tag = 'HandlerTimeoutError';
  readonly retryable = true;
  readonly reason = HANDLER_TIMEOUT;
  constructor(
    readonly subject: string,
    readonly timeoutMs: number,
  ) {
    super(`the handler for ${subject} did not finish within ${timeoutMs} ms`);
  }
}

/**
 * The runtime stopped before the handler finished: its envelope was handed back to the
 * queue for another process. The handler's `signal.reason` at a forced stop.
 *
 * - Never rejects a step (the step never settles); only aborts the handler's signal.
 * - HTTP: none.
 */
export class HandlerStoppedError extends MailroomError {
  readonly _tag = 'HandlerStoppedError';
  constructor(readonly subject: string) {
    super(`the runtime stopped before the handler for ${subject} finished; the envelope was handed back`);
  }
}

/**
 * No handler is registered for the envelope's subject at its local domain.
 *
 * - Thrown by the envelope runner's handle step (`src/runtime/envelope-steps.ts`).
 * - Final (`retryable: false`, reason `unknown-subject`): the envelope is discarded, feedback is sent.
 * - HTTP: none.
 */
export class UnknownSubjectError extends MailroomError {
  readonly _tag = 'UnknownSubjectError';
  readonly retryable = false;
  readonly reason = 'unknown-subject';
  constructor(readonly subject: string) {
    super(`no handler for ${subject}`);
  }
}

/**
 * This runtime holds no signing key for a local domain it must sign for (a reply's `From`).
 *
 * - Thrown by the envelope runner's reply step (`src/runtime/envelope-steps.ts`).
 * - Final (`retryable: false`): retrying cannot find the key; the envelope is dead-lettered at
 *   once (reason `final-error`).
 * - HTTP: none.
 */
export class MissingSigningKeyError extends MailroomError {
  readonly _tag = 'MissingSigningKeyError';
  readonly retryable = false;
  constructor(readonly domain: string) {
    super(`no signing key for ${domain}`);
  }
}
