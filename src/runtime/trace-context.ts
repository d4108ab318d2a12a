import { AsyncLocalStorage } from 'node:async_hooks';
import type { MsgHdrs } from '@nats-io/transport-node';
import { MSG_ID_HEADER, TRACEPARENT_HEADER, TRACESTATE_HEADER } from '../transport/message-headers.ts';

/** W3C trace context (https://www.w3.org/TR/trace-context/), carried in NATS headers from inbox to reply. */
export interface TraceContext {
  readonly traceparent: string;
  readonly tracestate?: string;
}

const TRACEPARENT = /^[\da-f]{2}-[\da-f]{32}-[\da-f]{16}-[\da-f]{2}$/;

/** A valid `traceparent` (and its `tracestate`), or undefined: a malformed one is dropped, as the spec says. */
export function traceContextOf(traceparent: unknown, tracestate?: unknown): TraceContext | undefined {
  if (typeof traceparent !== 'string' || !TRACEPARENT.test(traceparent.trim())) return undefined;
  const state = typeof tracestate === 'string' && tracestate.length > 0 && tracestate.length <= 512 ? tracestate : undefined;
  return { traceparent: traceparent.trim(), ...(state ? { tracestate: state } : {}) };
}

/** Reads the trace context of a NATS message. */
export function traceFromHeaders(h: MsgHdrs | undefined): TraceContext | undefined {
  return h ? traceContextOf(h.get(TRACEPARENT_HEADER), h.get(TRACESTATE_HEADER)) : undefined;
}

/** Writes a trace context into NATS headers. */
export function setTraceHeaders(h: MsgHdrs, trace: TraceContext | undefined): void {
  if (!trace) return;
  h.set(TRACEPARENT_HEADER, trace.traceparent);
  if (trace.tracestate) h.set(TRACESTATE_HEADER, trace.tracestate);
}

/** The trace id (the 32 hex digits) of a trace context. */
export const traceIdOf = (trace: TraceContext | undefined): string | undefined => trace?.traceparent.split('-')[1];

/** What a log line about an outbox message says about it, read from its headers (no decoding). */
export interface OutboxLogFields {
  /** `reply`, `feedback`, `send`, `callback`, `publish`, … */
  readonly kind?: string;
  /** The correlation of the envelope delivered (for a reply: the request's, which it shares). */
  readonly correlation?: string;
  /** For `Feedback@Buffer`: the correlation of the discarded envelope it is about. */
  readonly feedbackFor?: string;
  readonly trace_id?: string;
}

/**
 * The log fields of an outbox message: its kind and correlations from its `Nats-Msg-Id`
 * (`reply/{requester}/{correlation}`, `feedback/{from}/{correlation}/{hash}`, `send/{from}/{correlation}`),
 * and the trace id when a `traceparent` came with it.
 */
export function outboxLogFields(h: MsgHdrs | undefined): OutboxLogFields {
  if (!h) return {};
  const [kind, , id] = (h.get(MSG_ID_HEADER) || '').split('/');
  const traceId = traceIdOf(traceFromHeaders(h));
  const correlation = kind === 'reply' || kind === 'send' || kind === 'callback' ? id : undefined;
  return {
    ...(kind ? { kind } : {}),
    ...(correlation ? { correlation } : {}),
    ...(kind === 'feedback' && id ? { feedbackFor: id } : {}),
    ...(traceId ? { trace_id: traceId } : {}),
  };
}

/** The trace context of the work running now (an envelope's handling, a delivery), for the logger's `trace_id`. */
export const traceStorage = new AsyncLocalStorage<TraceContext | undefined>();

/** Runs `fn` with `trace` as the current trace context: every log line written inside carries its `trace_id`. */
export function runWithTrace<T>(trace: TraceContext | undefined, fn: () => T): T {
  return trace ? traceStorage.run(trace, fn) : fn();
}

/** The trace id of the work running now, if it came with a `traceparent`. */
export const currentTraceId = (): string | undefined => traceIdOf(traceStorage.getStore());
