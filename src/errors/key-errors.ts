import { MailroomError } from './mailroom-error.ts';

/**
 * A key could not be read: wrong format, wrong algorithm, unreadable file.
 *
 * - Thrown by the keyring and key parsers (at start, or by the `keys` CLI).
 * - Final: the same bytes never parse; the runtime does not start with such a key.
 * - HTTP: none (start-up only).
 */
export class KeyFormatError extends MailroomError {
  readonly _tag = 'KeyFormatError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/**
 * A key look-up failed for a transient reason (DNS timeout, SERVFAIL): retry later.
 *
 * - Thrown by the DNS key resolver while verifying an envelope; its `cause` is a {@link DnsQueryError}.
 * - Retryable: the verifying step fails without `retryable: false`, so the envelope is naked
 *   with backoff and dead-lettered when its attempts run out. Never cached as an answer.
 * - HTTP: none of its own (500 if one reaches a route).
 */
export class KeyLookupError extends MailroomError {
  readonly _tag = 'KeyLookupError';
  constructor(
    message: string,
    readonly domain: string,
    readonly selector: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Why a DNS query got no usable answer. */
export type DnsFailure = 'timeout' | 'server-failure' | 'network' | 'bad-response';

/**
 * A DNS query got no usable answer: every server timed out, answered SERVFAIL / REFUSED /
 * another error code, or could not be reached.
 *
 * - Thrown by the DNS client; the key resolver wraps it as the `cause` of a {@link KeyLookupError}.
 * - Retryable, through that wrapper.
 * - HTTP: none of its own (500).
 */
export class DnsQueryError extends MailroomError {
  readonly _tag = 'DnsQueryError';
  constructor(
    message: string,
    readonly failure: DnsFailure,
    /** `host:port` of the (last) server asked. */
    readonly server: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
