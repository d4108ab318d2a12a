import { MailroomError } from './mailroom-error.ts';

/**
 * NATS / JetStream is unreachable or refused an operation. Transient by nature.
 *
 * - Thrown when a publish, a KV write or a stream read fails (its `cause` is the nats.js error).
 * - Retryable: inside an envelope step or an activity it fails the attempt, which is retried
 *   with backoff; at start it stops the start.
 * - HTTP: none of its own (500).
 */
export class TransportError extends MailroomError {
  readonly _tag = 'TransportError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/**
 * The embedded nats-server could not be started. `hint` tells the user how to fix it.
 *
 * - Thrown at start by the embedded-server launcher.
 * - The runtime does not start.
 * - HTTP: none (start-up only).
 */
export class NatsServerError extends MailroomError {
  readonly _tag = 'NatsServerError';
  constructor(
    message: string,
    readonly hint?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/**
 * Another live Mailroom runtime owns the embedded nats-server's store directory: starting a
 * second server there would take the store (and its server) away from the first.
 *
 * - Thrown at start by the store lock.
 * - The runtime does not start; `hint` says what to do.
 * - HTTP: none (start-up only).
 */
export class AlreadyRunningError extends MailroomError {
  readonly _tag = 'AlreadyRunningError';
  readonly hint = 'Stop that runtime first; or give this one its own nats.embedded.storeDir; or run both against one NATS (nats.url), where they share the work.';
  constructor(
    /** The owner's process id, from the lock file. */
    readonly pid: number,
    readonly storeDir: string,
    readonly lockFile: string,
    options?: { cause?: unknown },
  ) {
    super(`already running, pid ${pid}: another Mailroom runtime owns the embedded nats-server store ${storeDir} (lock ${lockFile})`, options);
  }
}

/**
 * A NATS name could not be built or parsed: empty input, a malformed token, a bad prefix.
 *
 * - Thrown by `src/transport/names.ts` (`createNames`, the token codecs, `parseKey`).
 * - Final: the same input never encodes. `parseSubject` answers `undefined` instead.
 * - HTTP: none of its own (500).
 */
export class InvalidNameError extends MailroomError {
  readonly _tag = 'InvalidNameError';
  constructor(
    message: string,
    readonly input: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
