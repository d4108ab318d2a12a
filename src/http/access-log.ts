import { EventEmitter } from 'node:events';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { traceContextOf, traceIdOf } from '../runtime/trace-context.ts';

/** One HTTP request, as the access log has it. */
export interface AccessLogEntry {
  readonly method: string;
  /**
   * The route pattern (`/dead-letters/:id`), never the raw URL: capability status URLs carry a
   * secret. A request no route matched is `(unmatched)`.
   */
  readonly route: string;
  readonly status: number;
  readonly durationMs: number;
  /** The trace id of the request's `traceparent`, when it came with one. */
  readonly trace_id?: string;
}

export type AccessLogSink = (entry: AccessLogEntry) => void;

/** Calls `sink` once per answered request (Fastify's `onResponse` hook, on every route of `app`). */
export function registerAccessLog(app: FastifyInstance, sink: AccessLogSink): void {
  app.addHook('onResponse', (request, reply, done) => {
    const traceId = traceIdOf(traceContextOf(request.headers.traceparent));
    sink({
      method: request.method,
      route: request.routeOptions.url ?? '(unmatched)',
      status: reply.statusCode,
      durationMs: Math.round(reply.elapsedTime * 10) / 10,
      ...(traceId ? { trace_id: traceId } : {}),
    });
    done();
  });
}

/**
 * A sink that hands entries on in batches, at most every `intervalMs`: the ingress worker
 * thread posts one message per batch, not one per request. The timer does not keep the
 * thread alive; `flush()` hands on what is left (at stop).
 */
export function batchedSink(post: (entries: AccessLogEntry[]) => void, intervalMs = 100): { readonly sink: AccessLogSink; flush(): void } {
  let pending: AccessLogEntry[] = [];
  let timer: ReturnType<typeof setTimeout> | undefined;
  const flush = () => {
    if (timer) clearTimeout(timer);
    timer = undefined;
    if (pending.length === 0) return;
    const entries = pending;
    pending = [];
    post(entries);
  };
  return {
    sink: (entry) => {
      pending.push(entry);
      if (pending.length >= 1_000) return flush();
      if (!timer) (timer = setTimeout(flush, intervalMs)).unref();
    },
    flush,
  };
}

/**
 * The requests the ingress worker thread answered (`POST /inbox` and the other public routes),
 * re-emitted on the runtime thread as `access` events: the worker has no logger of its own.
 */
export const workerAccessLog = new EventEmitter<{ access: [entry: AccessLogEntry] }>();

/** Writes an entry as an `info` line: `GET /dead-letters 200 3.1 ms`. */
export const accessLogLine = (logger: Logger): AccessLogSink => (entry) =>
  logger.info({ access: true, ...entry }, `${entry.method} ${entry.route} ${entry.status} ${entry.durationMs} ms${entry.trace_id ? ` trace ${entry.trace_id}` : ''}`);

/**
 * The access log of a runtime's HTTP: a plugin (`httpPlugins`) for its server, and the ingress
 * worker's requests, each as an `info` line. `stop()` stops taking the worker's.
 */
export function createAccessLog(logger: Logger): { readonly plugin: (app: FastifyInstance) => void; stop(): void } {
  // Below info (--quiet, --log-level warn) there is nothing to write: no hook at all.
  if (!logger.isLevelEnabled('info')) return { plugin: () => undefined, stop: () => undefined };
  const line = accessLogLine(logger);
  workerAccessLog.on('access', line);
  return { plugin: (app) => registerAccessLog(app, line), stop: () => void workerAccessLog.off('access', line) };
}
