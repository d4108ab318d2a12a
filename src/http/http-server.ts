import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type RequestListener, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import Fastify, { type FastifyInstance, type FastifyReply } from 'fastify';
import { adminWho, installAdminAuth, noteAudit, type AuditEntry } from './admin-auth.ts';
import { statusPath, verifyStatusToken } from './status-capability.ts';
import { addReadTimeout } from './read-timeout.ts';
import type { AcceptOutcome } from '../runtime/inbox.ts';
import type { EnvelopeStatus } from '../runtime/status-store.ts';
import type { DeadLetterStore } from '../runtime/dead-letter-store.ts';
import type { MailroomStats, RequestOptions } from '../runtime/mailroom.ts';
import type { ConversationRecord } from '../runtime/conversations.ts';
import { ConfigError } from '../errors.ts';
import { traceContextOf, type TraceContext } from '../runtime/trace-context.ts';
import type { StateValue } from 'xstate';
import type { WorkflowFilter, WorkflowInfo, WorkflowStatus, Workflows } from '../workflows/workflow-types.ts';

/** What the HTTP layer needs from the runtime: its public API, not the transport. */
export interface HttpRuntime {
  accept(input: Uint8Array, format: 'json' | 'yaml' | 'auto', trace?: TraceContext, callback?: string): Promise<AcceptOutcome>;
  status(from: string, correlation: string): Promise<EnvelopeStatus | undefined>;
  /** Ready = connected to NATS with JetStream answering. */
  ready(): Promise<{ ready: boolean; detail: string }>;
  readonly deadLetters: Pick<DeadLetterStore, 'list' | 'get' | 'replay' | 'purge'>;
  conversation(from: string, correlation: string): Promise<ConversationRecord | undefined>;
  startConversation(request: RequestOptions): Promise<{ correlation: string }>;
  stats(): Promise<MailroomStats>;
  /** `GET /workflows`, `GET /workflows/{id}` read these; `POST /workflows…` start, signal, cancel and resume. */
  readonly workflows: Pick<Workflows, 'list' | 'get'> & Partial<Pick<Workflows, 'start' | 'send' | 'cancel' | 'resume'>>;
}

export interface HttpServerOptions {
  readonly host: string;
  readonly port: number;
  readonly maxBodyBytes: number;
  /** Base of the status URLs in 202 answers; default: the address the server listens on. */
  readonly publicUrl?: string;
  readonly tls?: { readonly cert: string; readonly key: string };
  /** Registered before the server listens: more routes (metrics, dashboard, ...). Their routes are admin routes. */
  readonly plugins?: readonly HttpPlugin[];
  /** Admin bearer tokens (several, for rotation). None: admin routes answer only to loopback peers. */
  readonly adminTokens?: readonly string[];
  /** A separate listener for the admin routes; the main one then serves only the public routes. */
  readonly admin?: { readonly host: string; readonly port: number };
  /** `/metrics`: an admin route (default) or a public one. */
  readonly metrics?: 'admin' | 'public';
  /** The secret status capability URLs are made with (see `statusSecret` in status-capability.ts); default random. */
  readonly statusSecret?: Buffer;
  /** Hosted domains that `POST /conversations` may use as `from` (default none). */
  readonly sendAs?: readonly string[];
  /** A request body must arrive within this time, else 408 (default 10 s). */
  readonly readTimeoutMs?: number;
  /** Receives one entry per admin action (replay, purge, workflow start/send/cancel/resume, conversation start). */
  readonly onAudit?: (entry: AuditEntry) => void;
}

/** Adds routes to the runtime's HTTP server before it listens. */
export type HttpPlugin = (app: FastifyInstance) => void | Promise<void>;

export interface HttpServer {
  readonly url: string;
  /** Where the admin routes are served: the admin listener's URL, or `url` without one. */
  readonly adminUrl: string;
  readonly app: FastifyInstance;
  stop(): Promise<void>;
}

const YAML_TYPES = ['application/yaml', 'application/x-yaml', 'text/yaml', 'text/x-yaml'];

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

const WORKFLOW_STATUSES: readonly WorkflowStatus[] = ['running', 'done', 'failed', 'cancelled', 'parked'];

/** A workflow as `GET /workflows` lists it: without its context and history (`GET /workflows/{id}` has them). */
export type WorkflowSummary = Omit<WorkflowInfo, 'context' | 'history' | 'output'> & { readonly lastEvent?: string };

function workflowSummary(info: WorkflowInfo): WorkflowSummary {
  const { context: _context, history, output: _output, ...rest } = info;
  const last = history[history.length - 1];
  return { ...rest, ...(last ? { lastEvent: last.event } : {}) };
}

function problem(reply: FastifyReply, status: number, error: string, detail: string, extra?: Record<string, unknown>) {
  return reply.code(status).type('application/json').send({ error, detail, ...extra });
}

/**
 * The HTTP face of a runtime. Public (no token): `POST /inbox`, `GET /healthz`, `GET /readyz`,
 * and the capability status URLs `GET /status/{from}/{correlation}/{hash}/{token}` handed out in
 * the 202 of `POST /inbox`. Admin (a bearer token, or a loopback peer when no token is configured;
 * see admin-auth.ts): `GET /envelopes/{from}/{correlation}`, dead letters, conversations,
 * workflows (`?status=&name=&state=&limit=`), stats, and every plugin route (dashboard, metrics).
 * Answers 202 only after JetStream stored the envelope.
 */
export async function startHttpServer(runtime: HttpRuntime, options: HttpServerOptions): Promise<HttpServer> {
  const https = options.tls ? { key: await readFile(options.tls.key), cert: await readFile(options.tls.cert) } : null;
  const readTimeoutMs = options.readTimeoutMs ?? 10_000;
  // Node's own request timeout is the backstop (headers, and a body the hook below missed): it answers a bare 408.
  const nodeTimeouts = { headersTimeout: readTimeoutMs, requestTimeout: readTimeoutMs + Math.max(1_000, readTimeoutMs), connectionsCheckingInterval: Math.min(30_000, Math.max(100, readTimeoutMs / 2)) };
  const adminRequests = new WeakSet<IncomingMessage>();
  let adminServer: Server | undefined;
  const makeServer = (handler: RequestListener): Server => (https ? createHttpsServer({ ...https, ...nodeTimeouts }, handler) : createServer(nodeTimeouts, handler));
  const app = Fastify({
    bodyLimit: options.maxBodyBytes,
    logger: false,
    ...(https ? { https } : {}),
    serverFactory: (handler) => {
      if (options.admin) {
        adminServer = makeServer((req, res) => {
          adminRequests.add(req);
          handler(req, res);
        });
      }
      return makeServer(handler);
    },
  }) as unknown as FastifyInstance;
  const secret = options.statusSecret ?? randomBytes(32);
  const sendAs = new Set(options.sendAs ?? []);
  installAdminAuth(app, {
    tokens: options.adminTokens ?? [],
    metrics: options.metrics ?? 'admin',
    ...(options.admin ? { isAdminListener: (raw: IncomingMessage) => adminRequests.has(raw) } : {}),
    ...(options.publicUrl ? { publicUrl: options.publicUrl } : {}),
    ...(options.onAudit ? { onAudit: options.onAudit } : {}),
  });
  addReadTimeout(app, readTimeoutMs);
  app.removeAllContentTypeParsers();
  app.addContentTypeParser(['application/json', 'text/plain', ...YAML_TYPES], { parseAs: 'buffer' }, (_request, body, done) => done(null, body));

  app.setErrorHandler((error: { statusCode?: number; code?: string; message: string }, _request, reply) => {
    const status = error.statusCode ?? 500;
    if (status === 408) return problem(reply.header('connection', 'close'), 408, 'request-timeout', error.message);
    if (status === 413) return problem(reply, 413, 'too-large', `the body is larger than ${options.maxBodyBytes} bytes`);
    if (status === 415) return problem(reply, 415, 'unsupported-media-type', `send application/json or application/yaml (${error.message})`);
    if (status >= 400 && status < 500) return problem(reply, status, 'bad-request', error.message);
    return problem(reply, 500, 'internal', error.message);
  });

  let baseUrl = options.publicUrl ?? '';
  app.post('/inbox', async (request, reply) => {
    const type = (request.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    const format = type === 'application/json' ? 'json' : YAML_TYPES.includes(type) ? 'yaml' : 'auto';
    const callback = callbackOf(request.query as Record<string, unknown>, request.headers['mailroom-callback']);
    if (callback instanceof Error) return problem(reply, 400, 'bad-callback', callback.message);
    const outcome = await runtime.accept(request.body as Buffer, format, traceContextOf(request.headers.traceparent, request.headers.tracestate), callback);
    switch (outcome.kind) {
      case 'accepted': {
        // A capability: readable without the admin token by whoever holds this URL (the sender).
        const path = statusPath(secret, { from: outcome.from, correlation: outcome.correlation, hash: outcome.hash });
        return reply
          .code(202)
          .header('location', path)
          .send({ correlation: outcome.correlation, from: outcome.from, state: 'queued', duplicate: outcome.duplicate, status: `${baseUrl}${path}` });
      }
      case 'rejected': {
        const { reason, detail, field, code } = outcome.error;
        return problem(reply, reason === 'too-large' ? 413 : 400, reason, detail, { ...(field ? { field } : {}), ...(code ? { code } : {}) });
      }
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

  app.get<{ Params: { from: string; correlation: string } }>('/envelopes/:from/:correlation', async (request, reply) => {
    const status = await runtime.status(request.params.from, request.params.correlation);
    if (!status) return problem(reply, 404, 'not-found', `no envelope from ${request.params.from} with correlation ${request.params.correlation}`);
    return reply.send(status);
  });

  const deadLetterId = (raw: string, reply: FastifyReply): number | undefined => {
    const id = Number(raw);
    if (Number.isSafeInteger(id) && id > 0) return id;
    void problem(reply, 400, 'bad-request', `dead letter ids are stream sequences (positive integers), not ${JSON.stringify(raw)}`);
    return undefined;
  };
  app.get<{ Querystring: { limit?: string } }>('/dead-letters', async (request) => {
    const limit = Math.min(1000, Math.max(1, Number(request.query.limit ?? 100) || 100));
    return { deadLetters: await runtime.deadLetters.list({ limit }) };
  });
  app.get<{ Params: { id: string } }>('/dead-letters/:id', async (request, reply) => {
    const id = deadLetterId(request.params.id, reply);
    if (id === undefined) return reply;
    const letter = await runtime.deadLetters.get(id);
    return letter ? letter : problem(reply, 404, 'not-found', `no dead letter ${id}`);
  });
  app.post<{ Params: { id: string } }>('/dead-letters/:id/replay', async (request, reply) => {
    const id = deadLetterId(request.params.id, reply);
    if (id === undefined) return reply;
    const replayed = await runtime.deadLetters.replay(id, { by: adminWho(request) ?? 'http' });
    return replayed ? reply.code(202).send(replayed) : problem(reply, 404, 'not-found', `no dead letter ${id}`);
  });
  app.delete<{ Params: { id: string } }>('/dead-letters/:id', async (request, reply) => {
    const id = deadLetterId(request.params.id, reply);
    if (id === undefined) return reply;
    const purged = await runtime.deadLetters.purge(id);
    return purged ? { purged } : problem(reply, 404, 'not-found', `no dead letter ${id}`);
  });
  app.delete('/dead-letters', async () => ({ purged: await runtime.deadLetters.purge() }));
  app.get('/stats', async () => runtime.stats());

  app.get<{ Params: { from: string; correlation: string } }>('/conversations/:from/:correlation', async (request, reply) => {
    const record = await runtime.conversation(request.params.from, request.params.correlation);
    return record ?? problem(reply, 404, 'not-found', `no conversation from ${request.params.from} with correlation ${request.params.correlation}`);
  });
  app.post('/conversations', async (request, reply) => {
    let body: Partial<RequestOptions>;
    try {
      body = JSON.parse(Buffer.from(request.body as Buffer).toString('utf8')) as Partial<RequestOptions>;
    } catch (_) {
      return problem(reply, 400, 'malformed', 'the body must be JSON: {from, to, subject, body?, timeoutMs?}');
    }
    const missing = (['from', 'to', 'subject'] as const).filter((k) => typeof body[k] !== 'string' || body[k] === '');
    if (missing.length) return problem(reply, 400, 'malformed', `missing ${missing.join(', ')}`);
    if (body.timeoutMs !== undefined && !(Number.isSafeInteger(body.timeoutMs) && body.timeoutMs > 0)) return problem(reply, 400, 'malformed', 'timeoutMs must be a positive integer');
    noteAudit(request, { from: body.from!, to: body.to!, subject: body.subject! });
    if (!sendAs.has(body.from!)) {
      const allowed = sendAs.size ? `it lists ${[...sendAs].join(', ')}` : 'it is empty';
      return problem(reply, 403, 'send-as-not-allowed', `${body.from} may not be used as from over HTTP: add it to http.sendAs (${allowed})`);
    }
    try {
      const { correlation } = await runtime.startConversation(body as RequestOptions);
      noteAudit(request, { correlation });
      const path = `/conversations/${encodeURIComponent(body.from!)}/${encodeURIComponent(correlation)}`;
      return reply.code(202).header('location', path).send({ correlation, state: 'awaitingReply', status: `${baseUrl}${path}` });
    } catch (error) {
      if (error instanceof ConfigError) return problem(reply, 400, 'not-local', error.message);
      throw error;
    }
  });

  app.get<{ Querystring: { status?: string; name?: string; state?: string; limit?: string } }>('/workflows', async (request, reply) => {
    const { status, name, state, limit: rawLimit } = request.query;
    const filter: { -readonly [K in keyof WorkflowFilter]: WorkflowFilter[K] } = {};
    if (status) {
      if (!(WORKFLOW_STATUSES as readonly string[]).includes(status)) return problem(reply, 400, 'bad-request', `status is one of ${WORKFLOW_STATUSES.join(', ')}, not ${JSON.stringify(status)}`);
      filter.status = status as WorkflowStatus;
    }
    if (name) filter.name = name;
    if (state) {
      // A state path (`charging`, `payment.waiting`) or a state value as JSON (`{"payment":"waiting"}`).
      if (state.startsWith('{')) {
        try {
          filter.state = JSON.parse(state) as StateValue;
        } catch (_) {
          return problem(reply, 400, 'bad-request', 'state is a state path (payment.waiting) or a state value as JSON ({"payment":"waiting"})');
        }
      } else filter.state = state;
    }
    const limit = Math.min(1000, Math.max(1, Number(rawLimit ?? 100) || 100));
    const all = await runtime.workflows.list(filter);
    // Newest first.
    const newest = all.sort((a, b) => b.createdAt - a.createdAt || b.id.localeCompare(a.id)).slice(0, limit);
    return { total: all.length, workflows: newest.map(workflowSummary) };
  });
  // A wildcard: workflow IDs may contain slashes (an envelope-started one is `<From>/<Correlation>`).
  app.get<{ Params: { '*': string } }>('/workflows/*', async (request, reply) => {
    const id = request.params['*'];
    if (!id) return problem(reply, 400, 'bad-request', 'give a workflow id: GET /workflows/{id}');
    const info = await runtime.workflows.get(id);
    return info ?? problem(reply, 404, 'not-found', `no workflow with id ${JSON.stringify(id)}`);
  });

  // Start, signal, cancel, resume. Each answers with the workflow as stored after the step.
  /** A JSON body (bodies arrive as bytes: `/inbox` needs them raw); `undefined` when it is not JSON. */
  const jsonBody = (body: unknown): unknown => {
    if (body === undefined || body === null) return {};
    try {
      return JSON.parse(Buffer.from(body as Buffer).toString('utf8')) as unknown;
    } catch (_) {
      return undefined;
    }
  };
  const workflowError = (reply: FastifyReply, error: unknown) => {
    const tag = (error as { _tag?: unknown })?._tag;
    const detail = error instanceof Error ? error.message : String(error);
    if (tag === 'WorkflowNotFoundError') return problem(reply, 404, 'not-found', detail);
    if (tag === 'WorkflowNotRunningError' || tag === 'WorkflowAlreadyExistsError') return problem(reply, 409, 'conflict', detail);
    if (tag === 'InvalidWorkflowInputError' || tag === 'UnknownWorkflowError') return problem(reply, 400, 'bad-request', detail);
    throw error;
  };
  app.post<{ Body: unknown }>('/workflows', async (request, reply) => {
    const workflows = runtime.workflows;
    if (!workflows.start) return problem(reply, 404, 'not-found', 'this server does not start workflows');
    const body = jsonBody(request.body) as { name?: unknown; input?: unknown; id?: unknown } | null | undefined;
    if (typeof body !== 'object' || body === null || typeof body.name !== 'string') return problem(reply, 400, 'bad-request', 'send JSON {"name": "<workflow kind>", "input": …, "id": "<optional id>"}');
    if (body.id !== undefined && typeof body.id !== 'string') return problem(reply, 400, 'bad-request', 'id must be a string');
    noteAudit(request, { name: body.name, ...(typeof body.id === 'string' ? { workflow: body.id } : {}) });
    try {
      return reply.code(201).send(await workflows.start(body.name, body.input, body.id !== undefined ? { id: body.id } : {}));
    } catch (error) {
      return workflowError(reply, error);
    }
  });
  // `/workflows/{id}/events|cancel|resume`; the ID may contain slashes, the action is the last segment.
  app.post<{ Params: { '*': string }; Body: unknown }>('/workflows/*', async (request, reply) => {
    const path = request.params['*'];
    const cut = path.lastIndexOf('/');
    const id = cut > 0 ? path.slice(0, cut) : '';
    const action = path.slice(cut + 1);
    const body = jsonBody(request.body) as Record<string, unknown> | undefined;
    if (typeof body !== 'object' || body === null) return problem(reply, 400, 'bad-request', 'the body must be a JSON object');
    const workflows = runtime.workflows;
    try {
      if (id && action === 'events' && workflows.send) return await workflows.send(id, body as { type: string });
      if (id && action === 'cancel' && workflows.cancel) return await workflows.cancel(id, typeof body['reason'] === 'string' ? body['reason'] : undefined);
      if (id && action === 'resume' && workflows.resume) return await workflows.resume(id);
    } catch (error) {
      return workflowError(reply, error);
    }
    return problem(reply, 404, 'not-found', 'POST /workflows/{id}/events (an event as JSON), /workflows/{id}/cancel ({"reason"}) or /workflows/{id}/resume');
  });

  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_request, reply) => {
    const { ready, detail } = await runtime.ready();
    return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not-ready', detail });
  });

  for (const plugin of options.plugins ?? []) await plugin(app);
  const admin = adminServer;
  if (admin) {
    app.addHook('onClose', async () => {
      const closed = new Promise<void>((resolve) => admin.close(() => resolve()));
      admin.closeIdleConnections();
      await closed;
    });
  }
  await app.listen({ host: options.host, port: options.port });
  const urlOf = (server: Server, listenHost: string, fallbackPort: number) => {
    const address = server.address();
    const port = typeof address === 'object' && address ? address.port : fallbackPort;
    const host = listenHost.includes(':') ? `[${listenHost}]` : listenHost === '0.0.0.0' ? '127.0.0.1' : listenHost;
    return `${https ? 'https' : 'http'}://${host}:${port}`;
  };
  const url = urlOf(app.server, options.host, options.port);
  let adminUrl = url;
  if (admin && options.admin) {
    try {
      await new Promise<void>((resolve, reject) => {
        admin.once('error', reject);
        admin.listen({ host: options.admin!.host, port: options.admin!.port }, () => resolve());
      });
    } catch (error) {
      await app.close();
      throw error;
    }
    adminUrl = urlOf(admin, options.admin.host, options.admin.port);
  }
  if (!baseUrl) baseUrl = url;
  let stopped: Promise<void> | undefined;
  return { url, adminUrl, app, stop: () => (stopped ??= app.close()) };
}
