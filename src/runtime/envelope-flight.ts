import type { JsMsg } from '@nats-io/jetstream';
import type { EnvelopeActorInput } from '../../machines/envelope.machine.ts';
import { decodeEnvelope, type DecodedEnvelope, type ParseLimits } from '../envelope/index.ts';
import type { Result } from '../envelope/types.ts';
import type { MsgHdrs } from '@nats-io/transport-node';
import { CALLBACK_HEADER, RECEIVED_AT_HEADER, REPLAYED_BY_HEADER, TRACEPARENT_HEADER, TRACESTATE_HEADER } from '../transport/message-headers.ts';
import { initialHistory } from './status-history.ts';
import type { EnvelopeStatus, StatusStep } from './status-store.ts';
import { traceContextOf, type TraceContext } from './trace-context.ts';
import type { Validation } from './validator.ts';

/**
 * One stored message while its actor runs (or waits for the throttle), keyed by stream and
 * sequence: one flight, so one actor, per message in this process. Held in memory only for
 * the actor's short life. What the steps produce for the machine (the reply) travels in the
 * actor's context, not here; a flight holds what the steps share about the message itself.
 */
export interface Flight {
  /**
   * The newest delivery of the message. A redelivery that arrives while the actor runs (the ack
   * wait passed) replaces it and starts no second actor: the actor settles with the newest
   * delivery's ack subject (nats-server acks by stream sequence; an older one's would do too).
   */
  msg: JsMsg;
  /** When this process got the message (ms): an actor older than the ack wait may have been overtaken. */
  readonly startedAt: number;
  readonly decoded: Result<DecodedEnvelope>;
  /** This run's steps so far (see `status-history.ts`); the actor's observer appends to it, in place. */
  readonly history: StatusStep[];
  readonly trace?: TraceContext;
  /** Aborted when the runner gives up on the message at stop (its grace ran out; the message was handed back). */
  readonly stop: AbortSignal;
  /** Set by a dead-letter replay (`Mailroom-Replayed-By`): who replayed it. Freshness is not checked again. */
  readonly replayedBy?: string;
  /** The callback URL its sender asked for (`Mailroom-Callback`), if any: for the final status of the verified envelope only. */
  readonly callbackUrl?: string;
  /** What validation proved (absent when validation did not finish). */
  validation?: Validation;
  /**
   * Set by validation when the envelope answers one of our requests (a stored conversation waits
   * for, or has had, its correlation from its sender): a reply, or feedback about a request. Such
   * an envelope ends its conversation instead of going to a handler; its Body is kept in its status.
   */
  answer?: 'reply' | 'feedback';
  /**
   * The final status this very envelope (same Hash) already has: it was answered before (a
   * redelivery whose ack was lost, a re-post after a broker restart). The actor runs no side
   * effect and the status is not written again; the message is only settled.
   */
  settledAs?: EnvelopeStatus;
  /** Where feedback went or why none did (`feedback: none, manifest has no Feedback`), once a discard looked for a buffer. */
  feedback?: string;
}

/** The messages in flight in one runner, by {@link flightKey}. */
export type Flights = Map<string, Flight>;

/** The flight key of a stored message: its stream and sequence (the inbox and the ordered stream count apart). */
export const flightKey = (msg: JsMsg): string => `${msg.info.stream}/${msg.seq}`;

/** A new flight for a delivered message: decoded once, here (the throttle needs the header, the actor the whole envelope). */
export function openFlight(msg: JsMsg, stop: AbortSignal, limits: ParseLimits): Flight {
  const decoded = decodeEnvelope(msg.data, { limits });
  const queuedAt = new Date(Math.floor(msg.info.timestampNanos / 1e6)).toISOString();
  const h = readFlightHeaders(msg.headers);
  const history = initialHistory(h.receivedAt || queuedAt, queuedAt);
  // Every field from the start, those the steps set later too: each flight has one shape.
  return {
    msg,
    startedAt: Date.now(),
    decoded,
    history,
    trace: traceContextOf(h.traceparent, h.tracestate),
    stop,
    replayedBy: h.replayedBy || undefined,
    callbackUrl: h.callbackUrl || undefined,
    validation: undefined,
    answer: undefined,
    settledAs: undefined,
    feedback: undefined,
  };
}

/** The headers a flight reads: `MsgHdrs.get` copies and filters every key on each call, so they are read in one pass. */
interface FlightHeaders {
  receivedAt: string | undefined;
  replayedBy: string | undefined;
  callbackUrl: string | undefined;
  traceparent: string | undefined;
  tracestate: string | undefined;
}

function readFlightHeaders(headers: MsgHdrs | undefined): FlightHeaders {
  const read: FlightHeaders = { receivedAt: undefined, replayedBy: undefined, callbackUrl: undefined, traceparent: undefined, tracestate: undefined };
  if (!headers) return read;
  // As `get` (exact match) reads them: the first value of the key.
  for (const [key, values] of headers) {
    if (key === RECEIVED_AT_HEADER) read.receivedAt = values[0];
    else if (key === REPLAYED_BY_HEADER) read.replayedBy = values[0];
    else if (key === CALLBACK_HEADER) read.callbackUrl = values[0];
    else if (key === TRACEPARENT_HEADER) read.traceparent = values[0];
    else if (key === TRACESTATE_HEADER) read.tracestate = values[0];
  }
  return read;
}

/** The attempts, backoff and handler timeout of one subject, over the defaults. */
export interface DeliveryPolicy {
  readonly maxAttempts: number;
  readonly retry: EnvelopeActorInput['retry'];
  readonly subjects?: Readonly<Record<string, { readonly maxAttempts?: number; readonly retry?: EnvelopeActorInput['retry']; readonly handlerTimeoutMs?: number }>>;
}

const UNKNOWN = '?';

/** The envelope actor's input for a flight (`?` for what an undecodable message does not say). */
export function actorInputOf(flight: Flight, delivery: DeliveryPolicy): EnvelopeActorInput {
  const header = flight.decoded.ok ? flight.decoded.value.envelope.Header : undefined;
  const policy = header ? delivery.subjects?.[header.Subject] : undefined;
  return {
    messageId: flightKey(flight.msg),
    from: header?.From ?? UNKNOWN,
    to: header?.To ?? UNKNOWN,
    subject: header?.Subject ?? UNKNOWN,
    correlation: header?.Correlation ?? UNKNOWN,
    attempt: flight.msg.info.deliveryCount,
    maxAttempts: policy?.maxAttempts ?? delivery.maxAttempts,
    retry: policy?.retry ?? delivery.retry,
    receivedAt: Math.floor(flight.msg.info.timestampNanos / 1e6),
  };
}
