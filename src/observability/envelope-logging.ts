import type { EventEmitter } from 'node:events';
import type { Level, Logger } from 'pino';
import type { MailroomEvents } from '../core/mailroom-types.ts';
import type { EnvelopeTransition } from '../runtime/envelope-runner.ts';
import type { EnvelopeStatus } from '../runtime/status-store.ts';
import { actorKey } from './actor-states.ts';

const LEVEL_OF: Readonly<Record<string, Level>> = { replied: 'info', feedbackSent: 'warn', noFeedback: 'warn', retrying: 'warn', deadLettered: 'error' };
/** Remembered trace ids are bounded: an actor that never settles must not grow the map forever. */
const MAX_TRACE_IDS = 10_000;

/** A `Feedback@Buffer` envelope's subject: the correlation of the discarded envelope it reports (its Body.Correlation). */
const feedbackFor = (status: EnvelopeStatus): string | undefined => {
  const body = status.subject === 'Feedback@Buffer' ? (status.body as { Correlation?: unknown } | undefined) : undefined;
  return typeof body?.Correlation === 'string' ? body.Correlation : undefined;
};

/** The one-line summary of a settled envelope, as the terminal shows it. */
export function settledLine(status: EnvelopeStatus): string {
  const why = status.discard
    ? ` (${status.discard.reason}: ${status.discard.detail})`
    : status.deadLetter
      ? ` (${status.deadLetter.reason}: ${status.deadLetter.detail})`
      : status.retryDelayMs !== undefined
        ? ` (attempt ${status.attempt}${status.error?.reason ? `, ${status.error.reason}` : ''}, again in ${status.retryDelayMs} ms)`
        : '';
  const about = feedbackFor(status);
  return `${status.state.padEnd(12)} ${status.from} → ${status.to} ${status.subject} ${status.correlation}${about ? ` (feedback about ${about})` : ''}${why}`;
}

/**
 * Logs a runtime's envelopes: one line per settled envelope (info when replied, warn when
 * discarded or retrying, error when dead-lettered), each transition at debug level, outbox
 * deliveries at debug, and runtime errors. Every envelope line carries `correlation`,
 * `from`, `to`, `subject`, `state` and `attempt` (and `trace_id` when the envelope came
 * with a W3C trace context). Returns a function that stops logging.
 *
 * Listening to `error` means the runtime no longer writes its errors to stderr itself.
 */
export function logEnvelopes(events: EventEmitter<MailroomEvents>, logger: Logger): () => void {
  const traceIds = new Map<string, string>();
  const onTransition = (t: EnvelopeTransition) => {
    const traceId = t.trace?.traceparent.split('-')[1];
    if (traceId) {
      if (traceIds.size >= MAX_TRACE_IDS) traceIds.delete(traceIds.keys().next().value!);
      traceIds.set(actorKey(t), traceId);
    }
    if (!logger.isLevelEnabled('debug')) return;
    logger.debug(
      { correlation: t.correlation, from: t.from, to: t.to, subject: t.subject, state: t.state, previous: t.previous, attempt: t.attempt, ...(traceId ? { trace_id: traceId } : {}) },
      `${t.previous} → ${t.state}`.padEnd(28) + ` ${t.from} → ${t.to} ${t.subject} ${t.correlation}`,
    );
  };
  const onSettled = (status: EnvelopeStatus) => {
    const key = actorKey(status);
    const traceId = traceIds.get(key);
    traceIds.delete(key);
    const fields = {
      correlation: status.correlation,
      from: status.from,
      to: status.to,
      subject: status.subject,
      state: status.state,
      attempt: status.attempt,
      ...(status.discard ? { reason: status.discard.reason, detail: status.discard.detail } : {}),
      ...(status.deadLetter ? { reason: status.deadLetter.reason, detail: status.deadLetter.detail } : {}),
      ...(status.replyCorrelation ? { replyCorrelation: status.replyCorrelation } : {}),
      ...(feedbackFor(status) ? { feedbackFor: feedbackFor(status) } : {}),
      ...(traceId ? { trace_id: traceId } : {}),
    };
    logger[LEVEL_OF[status.state] ?? 'info'](fields, settledLine(status));
  };
  const onDelivered = (info: { to: string; from: string; local: boolean; status?: number; kind?: string; correlation?: string; feedbackFor?: string }) => {
    const about = info.feedbackFor ? ` feedback about ${info.feedbackFor}` : `${info.kind ? ` ${info.kind}` : ''}${info.correlation ? ` ${info.correlation}` : ''}`;
    if (logger.isLevelEnabled('debug')) logger.debug(info, `delivered ${info.from} → ${info.to}${about} (${info.local ? 'local' : `HTTP ${info.status ?? '?'}`})`);
  };
  const onError = (error: unknown, context: string) => logger.error({ err: error, context }, `${context}: ${error instanceof Error ? error.message : String(error)}`);
  // A loss is logged as an error (through onError); the way back here.
  const onNats = (change: { type: string; server: string }) => {
    if (change.type === 'reconnect') logger.info({ context: 'nats', server: change.server }, `nats: reconnected to ${change.server}; the inbox stores again`);
  };

  events.on('transition', onTransition);
  events.on('settled', onSettled);
  events.on('delivered', onDelivered);
  events.on('error', onError);
  events.on('nats', onNats);
  return () => {
    events.off('nats', onNats);
    events.off('transition', onTransition);
    events.off('settled', onSettled);
    events.off('delivered', onDelivered);
    events.off('error', onError);
  };
}
