import type { EventEmitter } from 'node:events';
import type { Level, Logger } from 'pino';
import type { MailroomEvents } from '../core/mailroom-types.ts';
import type { EnvelopeTransition } from '../runtime/envelope-runner.ts';
import type { EnvelopeStatus } from '../runtime/status-store.ts';
import { actorKey } from './actor-states.ts';

/** A replied envelope is the usual case: its own line is at debug; info gets the periodic summary. */
const LEVEL_OF: Readonly<Record<string, Level>> = { replied: 'debug', feedbackSent: 'warn', noFeedback: 'warn', retrying: 'warn', deadLettered: 'error' };
/** How often the info summary of settled envelopes is written (when any settled). */
export const SUMMARY_INTERVAL_MS = 10_000;
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

/** The info summary: how many envelopes settled in each final state since the last one. */
export function summaryLine(counts: ReadonlyMap<string, number>, intervalMs: number): string {
  const parts = [...counts].map(([state, n]) => `${n.toLocaleString('en-US')} ${state}`);
  return `settled in the last ${Math.round(intervalMs / 1000)} s: ${parts.join(', ')}`;
}

export interface EnvelopeLoggingOptions {
  /** How often the info summary of settled envelopes is written (default {@link SUMMARY_INTERVAL_MS}). */
  readonly summaryIntervalMs?: number;
}

/**
 * Logs a runtime's envelopes: a line per envelope that did not simply succeed (warn when
 * discarded or retrying, error when dead-lettered), and at info a summary every 10 s of
 * how many settled in each state (`context: 'settled'`, `settled: { replied: n, … }`); a
 * replied envelope's own line, each transition and each outbox delivery are at debug.
 * Nothing is formatted for a level that is off. Every envelope line carries `correlation`,
 * `from`, `to`, `subject`, `state` and `attempt` (and `trace_id` when the envelope came
 * with a W3C trace context). Returns a function that stops logging (and writes the last summary).
 *
 * Listening to `error` means the runtime no longer writes its errors to stderr itself.
 */
export function logEnvelopes(events: EventEmitter<MailroomEvents>, logger: Logger, options: EnvelopeLoggingOptions = {}): () => void {
  const intervalMs = options.summaryIntervalMs ?? SUMMARY_INTERVAL_MS;
  const traceIds = new Map<string, string>();
  let counts = new Map<string, number>();
  let since = Date.now();
  const summarize = () => {
    const now = Date.now();
    if (counts.size > 0 && logger.isLevelEnabled('info')) {
      logger.info({ context: 'settled', settled: Object.fromEntries(counts), intervalMs: now - since }, summaryLine(counts, now - since));
    }
    counts = new Map();
    since = now;
  };
  const summaries = setInterval(summarize, intervalMs);
  summaries.unref();
  const onTransition = (t: EnvelopeTransition) => {
    // Remembered once per actor (its first state), for its settled line.
    if (t.trace && t.previous === 'queued') {
      const id = t.trace.traceparent.split('-')[1];
      if (id) {
        if (traceIds.size >= MAX_TRACE_IDS) traceIds.delete(traceIds.keys().next().value!);
        traceIds.set(actorKey(t), id);
      }
    }
    if (!logger.isLevelEnabled('debug')) return;
    const traceId = t.trace?.traceparent.split('-')[1];
    logger.debug(
      { correlation: t.correlation, from: t.from, to: t.to, subject: t.subject, state: t.state, previous: t.previous, attempt: t.attempt, ...(traceId ? { trace_id: traceId } : {}) },
      `${t.previous} → ${t.state}`.padEnd(28) + ` ${t.from} → ${t.to} ${t.subject} ${t.correlation}`,
    );
  };
  const onSettled = (status: EnvelopeStatus) => {
    counts.set(status.state, (counts.get(status.state) ?? 0) + 1);
    let traceId: string | undefined;
    if (traceIds.size > 0) {
      const key = actorKey(status);
      traceId = traceIds.get(key);
      traceIds.delete(key);
    }
    const level = LEVEL_OF[status.state] ?? 'info';
    if (!logger.isLevelEnabled(level)) return;
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
    logger[level](fields, settledLine(status));
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
  let stopped = false;
  return () => {
    if (stopped) return;
    stopped = true;
    clearInterval(summaries);
    summarize();
    events.off('nats', onNats);
    events.off('transition', onTransition);
    events.off('settled', onSettled);
    events.off('delivered', onDelivered);
    events.off('error', onError);
  };
}
