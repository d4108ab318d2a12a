import type { JetStreamClient } from '@nats-io/jetstream';
import { headers } from '@nats-io/transport-node';
import { decodeEnvelope, type ParseLimits } from '../envelope/index.ts';
import type { Envelope, Rejection } from '../envelope/types.ts';
import type { Names } from '../transport/names.ts';
import { CALLBACK_HEADER, RECEIVED_AT_HEADER } from '../transport/message-headers.ts';
import { initialHistory } from './status-history.ts';
import type { StatusStore } from './status-store.ts';
import { setTraceHeaders, type TraceContext } from './trace-context.ts';

/** The outcome of offering an envelope to the inbox. */
export type AcceptOutcome =
  | { readonly kind: 'accepted'; readonly from: string; readonly to: string; readonly correlation: string; readonly hash: string; readonly duplicate: boolean; readonly sequence: number }
  | { readonly kind: 'rejected'; readonly error: Rejection }
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
  readonly publishTimeoutMs: number;
  readonly onError?: (error: unknown, context: string) => void;
}

/**
 * Accepts one envelope: bounded parse and structural check, then a JetStream publish with
 * `Nats-Msg-Id = From/Correlation/Hash/…` (`names.inboxMsgId`): only a copy of the same signed
 * envelope is a duplicate, so an unverified copy sent first never blocks the genuine one.
 * `accepted` is returned only after the PubAck, so nothing is claimed before JetStream has it. The `queued` status is written after, off the reply path.
 */
export async function acceptEnvelope(input: Uint8Array, format: 'json' | 'yaml' | 'auto', deps: InboxDeps, trace?: TraceContext, callback?: string): Promise<AcceptOutcome> {
  const decoded = decodeEnvelope(input, { format, limits: deps.limits });
  if (!decoded.ok) return { kind: 'rejected', error: decoded.error };
  if (!deps.isConnected()) return { kind: 'unavailable', detail: 'the NATS connection is down' };
  const { Header, Hash, Signature } = decoded.value.envelope;
  const { From, To, Subject, Correlation } = Header;
  const receivedAt = new Date().toISOString();
  const h = headers();
  h.set(RECEIVED_AT_HEADER, receivedAt);
  setTraceHeaders(h, trace);
  if (callback) h.set(CALLBACK_HEADER, callback);
  let ack;
  try {
    ack = await deps.js.publish(deps.subjectFor(decoded.value.envelope.Header), input, {
      msgID: deps.names.inboxMsgId(From, Correlation, Hash, Signature),
      headers: h,
      timeout: deps.publishTimeoutMs,
    });
  } catch (error) {
    return { kind: 'unavailable', detail: `JetStream did not store the envelope: ${error instanceof Error ? error.message : String(error)}` };
  }
  if (!ack.duplicate) {
    deps.status
      .recordQueued({
        from: From,
        to: To,
        subject: Subject,
        correlation: Correlation,
        state: 'queued',
        final: false,
        attempt: 0,
        history: initialHistory(receivedAt, new Date().toISOString()),
        updatedAt: new Date().toISOString(),
      })
      .catch((error: unknown) => deps.onError?.(error, 'recording queued status'));
  }
  return { kind: 'accepted', from: From, to: To, correlation: Correlation, hash: Hash, duplicate: ack.duplicate, sequence: ack.seq };
}
