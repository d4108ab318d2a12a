import type { EventEmitter } from 'node:events';
import { ProxyTracerProvider, ROOT_CONTEXT, SpanKind, SpanStatusCode, TraceFlags, context as otelContext, createTraceState, trace, type Context, type Span, type Tracer } from '@opentelemetry/api';
import type { MailroomEvents } from '../core/mailroom-types.ts';
import type { EnvelopeTransition } from '../runtime/envelope-runner.ts';
import type { EnvelopeStatus } from '../runtime/status-store.ts';
import type { TraceContext } from '../runtime/trace-context.ts';
import { envelopeFinalStates } from '../../machines/envelope.machine.ts';
import { actorKey } from './actor-states.ts';

export interface EnvelopeTracingOptions {
  /** Default: the global tracer provider's `mailroom` tracer, so an SDK the user registers picks the spans up. */
  readonly tracer?: Tracer;
  /** An envelope span whose actor reached a final state but never settled is ended after this long (default 30 s). */
  readonly settleTimeoutMs?: number;
  /** An envelope span with no transition for this long is ended as failed (default 1 h): its actor died without settling. */
  readonly staleAfterMs?: number;
}

/** A handle on the tracing listeners. */
export interface EnvelopeTracing {
  /** Stops listening and ends every span still open. Idempotent. */
  stop(): void;
}

/** The parent context of an envelope: the W3C trace context it arrived with (remote), else the active one. */
export function parentContextOf(traceContext: TraceContext | undefined): Context {
  if (!traceContext) return otelContext.active();
  const [, traceId, spanId, flags] = traceContext.traceparent.split('-');
  if (!traceId || !spanId || !flags || /^0+$/.test(traceId) || /^0+$/.test(spanId)) return otelContext.active();
  return trace.setSpanContext(ROOT_CONTEXT, {
    traceId,
    spanId,
    traceFlags: Number.parseInt(flags, 16) & TraceFlags.SAMPLED,
    isRemote: true,
    ...(traceContext.tracestate ? { traceState: createTraceState(traceContext.tracestate) } : {}),
  });
}

interface OpenEnvelope {
  readonly span: Span;
  readonly context: Context;
  state?: { name: string; span: Span };
  /** When the actor reached a final state; the span ends when the envelope settles. */
  finalAt?: number;
  lastAt: number;
}

const FAULT_STATES = new Set(['retrying', 'deadLettering']);

/** The provider `@opentelemetry/api` delegates to while no SDK is registered. */
const NOOP_PROVIDER = new ProxyTracerProvider().getDelegate();

/**
 * Whether a tracer provider is registered on the global API (an SDK). Without one every span
 * is a no-op, so the runtime's transitions are not turned into spans at all. Asked per
 * transition: a provider registered later is picked up from the next envelope on.
 */
export function hasTracerProvider(): boolean {
  const provider = trace.getTracerProvider();
  return !(provider instanceof ProxyTracerProvider) || provider.getDelegate() !== NOOP_PROVIDER;
}

/**
 * OpenTelemetry spans from the runtime's transition events: one `envelope <subject>` span
 * per actor (per delivery attempt), parented on the W3C trace context the envelope arrived
 * with, and under it one span per state, from entering the state to leaving it. Final
 * states end the envelope span (when the envelope settles, with its outcome as attributes).
 *
 * Uses the global `@opentelemetry/api` tracer by default, and only while an SDK is registered
 * (for example with `node --import ./otel.mjs`): without one nothing is done per envelope.
 */
export function traceEnvelopes(events: EventEmitter<MailroomEvents>, options: EnvelopeTracingOptions = {}): EnvelopeTracing {
  const tracer = options.tracer ?? trace.getTracer('mailroom');
  // A tracer passed in is used as it is; the global one only once an SDK is registered.
  const active = options.tracer ? () => true : hasTracerProvider;
  const settleTimeoutMs = options.settleTimeoutMs ?? 30_000;
  const staleAfterMs = options.staleAfterMs ?? 3_600_000;
  const finals = new Set<string>(envelopeFinalStates);
  const open = new Map<string, OpenEnvelope>();

  const envelopeFor = (t: EnvelopeTransition): OpenEnvelope => {
    const key = actorKey(t);
    const found = open.get(key);
    if (found) return found;
    const parent = parentContextOf(t.trace);
    const span = tracer.startSpan(
      `envelope ${t.subject}`,
      {
        kind: SpanKind.CONSUMER,
        startTime: t.at,
        attributes: {
          'messaging.system': 'nats',
          'messaging.operation.type': 'process',
          'messaging.message.conversation_id': t.correlation,
          'mailroom.from': t.from,
          'mailroom.to': t.to,
          'mailroom.subject': t.subject,
          'mailroom.correlation': t.correlation,
          'mailroom.attempt': t.attempt,
        },
      },
      parent,
    );
    const entry: OpenEnvelope = { span, context: trace.setSpan(parent, span), lastAt: t.at };
    open.set(key, entry);
    return entry;
  };

  const end = (key: string, envelope: OpenEnvelope, at?: number) => {
    envelope.state?.span.end(at);
    envelope.span.end(at);
    open.delete(key);
  };

  const onTransition = (t: EnvelopeTransition) => {
    if (open.size === 0 && !active()) return;
    const envelope = envelopeFor(t);
    envelope.lastAt = t.at;
    if (envelope.state) {
      if (FAULT_STATES.has(t.state)) envelope.state.span.setStatus({ code: SpanStatusCode.ERROR, message: `${envelope.state.name} failed: ${t.state}` });
      envelope.state.span.setAttribute('mailroom.next_state', t.state);
      envelope.state.span.end(t.at);
      delete envelope.state;
    }
    if (finals.has(t.state)) {
      envelope.span.setAttribute('mailroom.state', t.state);
      envelope.finalAt = t.at;
      // Answered before: no `settled` event follows; the span ends here.
      if (t.answeredBefore) {
        envelope.span.setAttribute('mailroom.answered_before', true);
        end(actorKey(t), envelope, t.at);
      }
      return;
    }
    const span = tracer.startSpan(t.state, { startTime: t.at, attributes: { 'mailroom.state': t.state, 'mailroom.correlation': t.correlation } }, envelope.context);
    envelope.state = { name: t.state, span };
  };


  const onSettled = (status: EnvelopeStatus) => {
    if (open.size === 0) return;
    const key = actorKey(status);
    const envelope = open.get(key);
    if (!envelope) return;
    const { span } = envelope;
    span.setAttribute('mailroom.state', status.state);
    if (status.discard) {
      span.setAttribute('mailroom.discard.reason', status.discard.reason);
      span.setAttribute('mailroom.discard.source', status.discard.source);
    }
    if (status.deadLetter) {
      span.setAttribute('mailroom.dead_letter.reason', status.deadLetter.reason);
      span.setStatus({ code: SpanStatusCode.ERROR, message: `dead-lettered: ${status.deadLetter.detail}` });
    }
    if (status.replyCorrelation) span.setAttribute('mailroom.reply_correlation', status.replyCorrelation);
    end(key, envelope);
  };

  // Actors that failed without settling would hold their span forever: end them after a while.
  const sweep = setInterval(() => {
    const now = Date.now();
    for (const [key, envelope] of open) {
      if (envelope.finalAt !== undefined && envelope.finalAt < now - settleTimeoutMs) end(key, envelope, envelope.finalAt);
      else if (envelope.lastAt < now - staleAfterMs) {
        envelope.span.setStatus({ code: SpanStatusCode.ERROR, message: `no transition for ${staleAfterMs} ms: the actor stopped without settling` });
        end(key, envelope);
      }
    }
  }, Math.max(1_000, Math.floor(Math.min(settleTimeoutMs, staleAfterMs) / 3)));
  sweep.unref();

  events.on('transition', onTransition);
  events.on('settled', onSettled);
  let stopped = false;
  return {
    stop() {
      if (stopped) return;
      stopped = true;
      clearInterval(sweep);
      events.off('transition', onTransition);
      events.off('settled', onSettled);
      for (const [key, envelope] of open) end(key, envelope);
    },
  };
}
