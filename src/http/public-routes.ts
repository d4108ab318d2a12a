import type { FastifyInstance, FastifyReply } from 'fastify';
import { addReadTimeout } from './read-timeout.ts';
import { statusPath, verifyStatusToken } from './status-capability.ts';
import { noteInboxAnswer, recordInbox, type InboxRecorder } from './inbox-recorder.ts';
import type { AcceptOutcome } from '../runtime/inbox.ts';
import type { EnvelopeStatus } from '../runtime/status-store.ts';
import type { BacklogGate } from '../runtime/backlog-gate.ts';
import { traceContextOf, type TraceContext } from '../runtime/trace-context.ts';
import { CALLBACK_HEADER } from '../transport/message-headers.ts';
import { createManifestRequests, manifestResponse, type HostedManifests } from './manifest-route.ts';

/** What the public routes need: the inbox, the status store and readiness. The ingress worker thread has these too. */
export interface PublicRuntime {
  /** `client`: the sender's address, for the rate limit of unproven envelopes to public subjects. */
  accept(input: Uint8Array, format: 'json' | 'yaml' | 'auto', trace?: TraceContext, callback?: string, client?: string): Promise<AcceptOutcome>;
  status(from: string, correlation: string): Promise<EnvelopeStatus | undefined>;
  /** Ready = connected to NATS with JetStream answering. */
  ready(): Promise<{ ready: boolean; detail: string }>;
}

export interface PublicRoutesOptions {
  readonly maxBodyBytes: number;
  readonly readTimeoutMs: number;
  /** The secret of the capability status URLs. */
  readonly secret: Buffer;
  /** Base of the status URLs in 202 answers (read per request: known once the server listens). */
  readonly baseUrl: () => string;
  /** `inbox.maxPending`: refuse with 503 + Retry-After while the backlog is at the limit. */
  readonly backlog?: BacklogGate;
  readonly recorder?: InboxRecorder;
  /** The hosted domains' manifests, answered to `Manifest@Domain` in the response (see manifest-route.ts). */
  readonly manifests?: HostedManifests;
}

/** Node gives request headers in lower case. */
const CALLBACK = CALLBACK_HEADER.toLowerCase();

export const YAML_TYPES = ['application/yaml', 'application/x-yaml', 'text/yaml', 'text/x-yaml'];

/** The completion callback URL a sender asked for (`?callback=` or a `Mailroom-Callback` header), if any. */
function callbackOf(query: Record<string, unknown>, header: unknown): string | Error | undefined {
  const raw = typeof query.callback === 'string' ? query.callback : typeof header === 'string' ? header : undefined;
  if (raw === undefined) return undefined;
  try {
    const url = new URL(raw);
    if (url.protocol !== 'https:' && url.protocol !== 'http:') return new Error('the callback must be an http(s) URL');
    if (raw.length > 2048) return new Error('the callback URL is longer than 2048 characters');
    return url.href;
  } catch (_) {
    return new Error(`the callback is not a URL: ${raw.slice(0, 100)}`);
  }
}

export function problem(reply: FastifyReply, status: number, error: string, detail: string, extra?: Record<string, unknown>) {
  return reply.code(status).type('application/json').send({ error, detail, ...extra });
}

/**
 * The body handling (raw bytes, bounded size and read time, errors as problems) and the
 * public routes: `POST /inbox`, the capability status URL, `/healthz`, `/readyz`. The same
 * code on the runtime's thread (inline ingress) and in the ingress worker thread.
 */
export function registerPublicRoutes(app: FastifyInstance, runtime: PublicRuntime, options: PublicRoutesOptions): void {
  const { secret, backlog } = options;
  if (options.recorder) recordInbox(app, options.recorder);
  addReadTimeout(app, options.readTimeoutMs);
  app.removeAllContentTypeParsers();
  app.addContentTypeParser(['application/json', ...YAML_TYPES], { parseAs: 'buffer' }, (_request, body, done) => done(null, body));

  app.setErrorHandler((error: { statusCode?: number; code?: string; message: string }, _request, reply) => {
    const status = error.statusCode ?? 500;
    if (status === 408) return problem(reply.header('connection', 'close'), 408, 'request-timeout', error.message);
    if (status === 413) return problem(reply, 413, 'too-large', `the body is larger than ${options.maxBodyBytes} bytes`);
    if (status === 415) return problem(reply, 415, 'unsupported-media-type', `send application/json or application/yaml (${error.message})`);
    if (status >= 400 && status < 500) return problem(reply, status, 'bad-request', error.message);
    return problem(reply, 500, 'internal', error.message);
  });

  const manifestRequests = createManifestRequests({ manifests: options.manifests ?? {}, maxBodyBytes: options.maxBodyBytes });

  app.post('/inbox', async (request, reply) => {
    const type = (request.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    const format = type === 'application/json' ? 'json' : YAML_TYPES.includes(type) ? 'yaml' : 'auto';
    // Before the backlog gate: a manifest request stores nothing.
    const manifest = manifestRequests.answer(request.body as Buffer, format, request.ip);
    if (manifest?.kind === 'manifest') return reply.code(200).header('cache-control', 'no-store').type('application/json').send(manifestResponse(manifest.request, manifest.manifest));
    if (manifest?.kind === 'limited') {
      return problem(reply.header('retry-after', String(manifest.retryAfterSeconds)), 429, 'rate-limited', `too many manifest requests: retry after ${manifest.retryAfterSeconds} s`);
    }
    if (backlog?.full()) {
      noteInboxAnswer(request.raw, 'shed');
      const detail = `the inbox backlog is at its limit (inbox.maxPending); nothing was stored: retry after ${backlog.retryAfterSeconds} s`;
      return problem(reply.header('retry-after', String(backlog.retryAfterSeconds)), 503, 'overloaded', detail);
    }
    const callback = callbackOf(request.query as Record<string, unknown>, request.headers[CALLBACK]);
    if (callback instanceof Error) return problem(reply, 400, 'bad-callback', callback.message);
    backlog?.begin();
    let outcome: AcceptOutcome | undefined;
    try {
      outcome = await runtime.accept(request.body as Buffer, format, traceContextOf(request.headers.traceparent, request.headers.tracestate), callback, request.ip);
    } finally {
      backlog?.end(outcome?.kind === 'accepted' && !outcome.duplicate);
    }
    switch (outcome.kind) {
      case 'accepted': {
        noteInboxAnswer(request.raw, outcome.duplicate ? 'duplicate' : 'accepted');
        // A capability: readable without the admin token by whoever holds this URL (the sender).
        const path = statusPath(secret, { from: outcome.from, correlation: outcome.correlation, hash: outcome.hash });
        return reply
          .code(202)
          .header('location', path)
          .send({ correlation: outcome.correlation, from: outcome.from, state: 'queued', duplicate: outcome.duplicate, status: `${options.baseUrl()}${path}` });
      }
      case 'rejected': {
        const { reason, detail, field, code } = outcome.error;
        return problem(reply, reason === 'too-large' ? 413 : 400, reason, detail, { ...(field ? { field } : {}), ...(code ? { code } : {}) });
      }
      case 'limited':
        return problem(reply.header('retry-after', String(outcome.retryAfterSeconds)), 429, 'rate-limited', `too many unsigned envelopes: retry after ${outcome.retryAfterSeconds} s`);
      case 'unavailable':
        return problem(reply.header('retry-after', '1'), 503, 'unavailable', outcome.detail);
      default: {
        const never: never = outcome;
        throw new Error(`unknown outcome ${JSON.stringify(never)}`);
      }
    }
  });

  app.get<{ Params: { from: string; correlation: string; hash: string; token: string } }>('/status/:from/:correlation/:hash/:token', async (request, reply) => {
    const { from, correlation, hash, token } = request.params;
    // One answer for a bad token, an unknown envelope and another envelope's hash: nothing about existence leaks.
    const notFound = () => problem(reply, 404, 'not-found', 'no status at this URL');
    if (!verifyStatusToken(secret, { from, correlation, hash }, token)) return notFound();
    const status = await runtime.status(from, correlation);
    if (!status || (status.hash !== undefined && status.hash !== hash)) return notFound();
    return reply.header('cache-control', 'no-store').send(status);
  });

  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_request, reply) => {
    const { ready, detail } = await runtime.ready();
    return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not-ready', detail });
  });
}
