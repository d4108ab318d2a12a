import { MailroomError } from './mailroom-error.ts';

/**
 * A delivery target resolved to a loopback, private, link-local or otherwise non-public address.
 *
 * - Thrown by the SSRF guard (`src/runtime/ssrf-guard.ts`) before an outbound POST (a remote
 *   inbox found by convention, or a sender's callback URL).
 * - Final (`retryable: false`): the outbox dead-letters the message with `final-error`.
 * - HTTP: none (the POST was never made).
 */
export class SsrfBlockedError extends MailroomError {
  readonly _tag = 'SsrfBlockedError';
  readonly retryable = false;
  constructor(
    readonly host: string,
    readonly address: string,
    readonly range: string,
  ) {
    super(`refusing to deliver to ${host}: it resolves to ${address} (${range}), which is not a public address`);
  }
}

/**
 * A call on a closed crypto pool, or a pool whose worker threads cannot run (or a key a
 * worker cannot parse).
 *
 * - Thrown (as a rejection) by `CryptoPool.verify` / `sign`.
 * - Retryable inside an envelope step (it carries no `retryable: false`).
 * - HTTP: none of its own (500).
 */
export class CryptoPoolError extends MailroomError {
  readonly _tag = 'CryptoPoolError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}
