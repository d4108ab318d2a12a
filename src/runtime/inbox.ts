import type { JetStreamClient } from '@nats-io/jetstream';
import { headers } from '@nats-io/transport-node';
import { decodeEnvelope, type ParseLimits } from '../envelope/index.ts';
import { isUnsigned } from '../envelope/envelope-schema.ts';
import type { Envelope, Rejection } from '../envelope/types.ts';
import type { Names } from '../transport/names.ts';
import { CALLBACK_HEADER, RECEIVED_AT_HEADER } from '../transport/message-headers.ts';
import { initialHistory } from './status-history.ts';
import type { StatusStore } from './status-store.ts';
import { setTraceHeaders, type TraceContext } from './trace-context.ts';
import { retryWithinDeadline, STORE_DEADLINE_MS } from './within-deadline.ts';
import { isUnproven, type PublicEnvelopes } from './public-envelopes.ts';

export { isTransientStoreError, retryWithinDeadline, STORE_DEADLINE_MS, STORE_RETRY } from './within-deadline.ts';

/** The outcome of offering an envelope to the inbox. */
export type AcceptOutcome =
  | { readonly kind: 'accepted'; readonly from: string; readonly to: string; readonly correlation: string; readonly hash: string; readonly duplicate: boolean; readonly sequence: number }
  | { readonly kind: 'rejected'; readonly error: Rejection }
  /** An unproven envelope to a public subject over its rate limit (429 + Retry-After); nothing stored. */
  | { readonly kind: 'limited'; readonly retryAfterSeconds: number }
  | { readonly kind: 'unavailable'; readonly detail: string };

export interface InboxDeps {
  readonly js: JetStreamClient;
  readonly names: Names;
  /** The inbox subject of an envelope (the shared inbox, or its ordered partition). */
  readonly subjectFor: (header: Envelope['Header']) => string;
  readonly status: StatusStore;
  readonly limits: ParseLimits;
  /** False while the NATS connection is down: refuse at once instead of waiting for a timeout. */
  readonly isConnected: () => boolean;
  /** The wait for one PubAck; a publish that times out is tried again while the deadline allows. */
  readonly publishTimeoutMs: number;
  /**
   * How long a request may wait for JetStream to store its envelope, retries included
   * (default {@link STORE_DEADLINE_MS}): long enough for a stream's leader election on a
   * cluster, after which the inbox answers 503 + Retry-After.
   */
  readonly storeDeadlineMs?: number;
  /** How long a request waits for a lost connection to come back (to another node of a cluster) before 503 (default {@link RECONNECT_WAIT_MS}). */
  readonly reconnectWaitMs?: number;
  readonly onError?: (error: unknown, context: string) => void;
  /**
   * The hosted domains' public subjects and the rate limit of unproven envelopes (unsigned, or
   * from Anonymous or a wallet). Without it, every unsigned envelope is refused.
   */
  readonly publicEnvelopes?: PublicEnvelopes;
}

/** The default of `InboxDeps.reconnectWaitMs`: a client whose node died reconnects to another in milliseconds; one server that is down takes longer. */
export const RECONNECT_WAIT_MS = 1_000;
const messageOf = (error: unknown) => (error instanceof Error ? error.message : String(error));

/**
 * An envelope that cannot prove its sender (unsigned, Anonymous, a wallet) to a public subject
 * takes a token of its own rate limit; an unsigned one to any other subject is refused here, as
 * `malformed` (Hash missing), the verdict it always had. An Anonymous or wallet envelope that
 * is signed goes on as before (its validation finds no key). `undefined`: go on and store it.
 */
function admitUnproven(envelope: Envelope, gate: PublicEnvelopes | undefined, client: string | undefined): AcceptOutcome | undefined {
  if (!isUnproven(envelope)) return undefined;
  const { To, Subject } = envelope.Header;
  if (gate?.isPublic(To, Subject)) {
    const wait = gate.admit(client);
    return wait > 0 ? { kind: 'limited', retryAfterSeconds: Math.max(1, Math.ceil(wait / 1000)) } : undefined;
  }
  if (isUnsigned(envelope)) {
    return { kind: 'rejected', error: { reason: 'malformed', detail: `Hash is missing: ${To} accepts unsigned envelopes only for its public subjects, not ${Subject}`, field: 'Hash', code: 'missing' } };
  }
  return undefined;
}

/**
 * Accepts one envelope: bounded parse and structural check, then a JetStream publish with
 * `Nats-Msg-Id = From/Correlation/Hash/…` (`names.inboxMsgId`): only a copy of the same signed
 * envelope is a duplicate, so an unverified copy sent first never blocks the genuine one.
 * `accepted` is returned only after the PubAck, so nothing is claimed before JetStream has it.
 *
 * On a cluster the publish is tried again until `storeDeadlineMs` (a leader election, a
 * reconnect to another node), with the same `Nats-Msg-Id`: a try that timed out but was
 * stored makes the next one a duplicate, not a second copy. `duplicate` is then reported
 * false (the copy is this request's own). Past the deadline: `unavailable` (503 + Retry-After).
 * The `queued` status is written after, off the reply path, and likewise retried.
 */
export async function acceptEnvelope(input: Uint8Array, format: 'json' | 'yaml' | 'auto', deps: InboxDeps, trace?: TraceContext, callback?: string, client?: string): Promise<AcceptOutcome> {
  const decoded = decodeEnvelope(input, { format, limits: deps.limits });
  if (!decoded.ok) return { kind: 'rejected', error: decoded.error };
  const unproven = admitUnproven(decoded.value.envelope, deps.publicEnvelopes, client);
  if (unproven) return unproven;
  const retry = {
    deadline: Date.now() + (deps.storeDeadlineMs ?? STORE_DEADLINE_MS),
    timeoutMs: deps.publishTimeoutMs,
    isConnected: deps.isConnected,
    reconnectWaitMs: deps.reconnectWaitMs ?? RECONNECT_WAIT_MS,
  };
  const { Header, Hash, Signature } = decoded.value.envelope;
  const { From, To, Subject, Correlation } = Header;
  const receivedAt = new Date().toISOString();
  const h = headers();
  h.set(RECEIVED_AT_HEADER, receivedAt);
  setTraceHeaders(h, trace);
  if (callback) h.set(CALLBACK_HEADER, callback);
  const subject = deps.subjectFor(decoded.value.envelope.Header);
  const msgID = deps.names.inboxMsgId(From, Correlation, Hash, Signature);
  const stored = await retryWithinDeadline((timeout) => deps.js.publish(subject, input, { msgID, headers: h, timeout }), retry);
  if (!stored.ok) {
    if (stored.tries === 0) return { kind: 'unavailable', detail: 'the NATS connection is down' };
    return { kind: 'unavailable', detail: `JetStream did not store the envelope (${stored.tries} tries): ${messageOf(stored.error)}` };
  }
  const ack = stored.value;
  // A duplicate on a retry is most likely this request's own earlier try, stored after all.
  const duplicate = ack.duplicate && stored.tries === 1;
  if (!duplicate) {
    const status = {
      from: From,
      to: To,
      subject: Subject,
      correlation: Correlation,
      state: 'queued' as const,
      final: false,
      attempt: 0,
      history: initialHistory(receivedAt, new Date().toISOString()),
      updatedAt: new Date().toISOString(),
    };
    // A create: a try that was stored before its answer was lost leaves nothing to overwrite.
    void retryWithinDeadline(() => deps.status.recordQueued(status), { ...retry, deadline: Date.now() + (deps.storeDeadlineMs ?? STORE_DEADLINE_MS) }).then((written) => {
      if (!written.ok) deps.onError?.(written.error, 'recording queued status');
    });
  }
  return { kind: 'accepted', from: From, to: To, correlation: Correlation, hash: Hash, duplicate, sequence: ack.seq };
}
