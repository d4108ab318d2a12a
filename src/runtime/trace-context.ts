import type { MsgHdrs } from '@nats-io/transport-node';
import { TRACEPARENT_HEADER, TRACESTATE_HEADER } from '../transport/message-headers.ts';

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
