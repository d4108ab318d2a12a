/**
 * JetStream API errors recognised by their `err_code` (stable across servers and client
 * versions), never by their message text.
 */
import { JetStreamApiError } from '@nats-io/jetstream';

/** The JetStream API error codes Mailroom acts on (nats-server `server/errors.json`). */
export const JS_API_CODES = {
  /** A stream (or a KV bucket's stream) with this name exists with another config. */
  streamNameInUse: 10058,
  /** An expected-last-sequence publish found another sequence: a KV `create` on a key that exists, an `update` at a stale revision. */
  streamWrongLastSequence: 10071,
  /** The same, where the server cannot tell the last sequence (nats-server 2.11+). */
  streamWrongLastSequenceUnknown: 10164,
} as const;

/** The `err_code` of a JetStream API error, `undefined` for anything else. */
export function apiErrorCode(error: unknown): number | undefined {
  if (error instanceof JetStreamApiError) return error.code;
  // A JetStreamApiError of another copy of the nats.js module.
  const code = error instanceof Error && error.name === 'JetStreamApiError' ? (error as { code?: unknown }).code : undefined;
  return typeof code === 'number' ? code : undefined;
}

/** True for a JetStream API error with one of `codes` (any code when none is given). */
export function isApiError(error: unknown, ...codes: number[]): boolean {
  const code = apiErrorCode(error);
  return code !== undefined && (codes.length === 0 || codes.includes(code));
}

/**
 * True when a KV `create` found the key, or an `update` found a newer revision: the server's
 * "wrong last sequence" (10071, or 10164).
 */
export function isWrongLastSequence(error: unknown): boolean {
  return isApiError(error, JS_API_CODES.streamWrongLastSequence, JS_API_CODES.streamWrongLastSequenceUnknown);
}
