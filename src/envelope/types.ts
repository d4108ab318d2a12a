/**
 * The named reasons an envelope can be refused or discarded for (spec: "Validation
 * outcomes"), plus `too-large`, which the parser gives before anything else is read.
 */
export const envelopeReasons = [
  'too-large',
  'unsupported-schema',
  'malformed',
  'not-addressed-to-us',
  'stale-timestamp',
  'future-timestamp',
  'duplicate-correlation',
  'correlation-reused',
  'key-not-found',
  'hash-mismatch',
  'bad-signature',
  'unknown-subject',
] as const;
export type EnvelopeReason = (typeof envelopeReasons)[number];

/**
 * Why an envelope was refused. `field` names the offending field for `malformed`
 * (`Header.Timestamp`, `Signature`, `$` for the whole document); `code` is a finer,
 * machine-readable cause (`too-deep`, `duplicate-key`, `alias-limit`, `not-base64`, ...).
 */
export interface Rejection {
  readonly reason: EnvelopeReason;
  readonly detail: string;
  readonly field?: string;
  readonly code?: string;
}

/** An expected outcome: a value or a named rejection. */
export type Result<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: Rejection };

export const ok = <T>(value: T): Result<T> => ({ ok: true, value });
export const rejected = (reason: EnvelopeReason, detail: string, extra?: { field?: string; code?: string }): Result<never> => ({
  ok: false,
  error: { reason, detail, ...extra },
});

/** The normalised schema identifier. `.MSG` on the wire means the same. */
export const MSG_SCHEMA = 'pollyweb.org/MSG:1.0';

/** A JSON value as it appears in a Body. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

export interface EnvelopeHeader {
  /** Always normalised to `pollyweb.org/MSG:1.0`. */
  readonly Schema: typeof MSG_SCHEMA;
  /** A domain name, a UUID (wallet) or `Anonymous` (missing, empty or null on the wire). */
  readonly From: string;
  /** A domain name or a UUID. */
  readonly To: string;
  /** The method on the receiver, usually `Method@Role`. */
  readonly Subject: string;
  /** A UUID, unique per sender. */
  readonly Correlation: string;
  /** `YYYY-MM-DDTHH:MM:SS[.mmm]Z`. */
  readonly Timestamp: string;
  /** Names the sender's key; absent when empty. */
  readonly Selector?: string;
}

/** A structurally valid MSG 1.0 envelope (not yet verified). */
export interface Envelope {
  readonly Header: EnvelopeHeader;
  /** An object or a string; `{}` when missing or null on the wire. */
  readonly Body: { [key: string]: JsonValue } | string;
  readonly Hash: string;
  readonly Signature: string;
}
