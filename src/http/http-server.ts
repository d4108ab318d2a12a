import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type RequestListener, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import Fastify, { type FastifyInstance, type FastifyReply } from 'fastify';
import { adminWho, installAdminAuth, noteAudit, type AuditEntry } from './admin-auth.ts';
import { problem, registerPublicRoutes, type PublicRuntime } from './public-routes.ts';
import { InboxRecorder } from './inbox-recorder.ts';
import { registerAdminDeadLetterRoutes } from './admin-dead-letters.ts';
import { registerAdminEnvelopeRoutes, type AdminQueryRuntime } from './admin-envelopes.ts';
import type { HostedManifests } from './manifest-route.ts';
import { socketPeer, takeForwardedPeer, type Peer } from './peer-forwarding.ts';
import type { BacklogGate } from '../runtime/backlog-gate.ts';
import type { DeadLetterStore } from '../runtime/dead-letter-store.ts';
import type { HttpPlugin, MailroomStats, RequestOptions } from '../core/mailroom-types.ts';
import type { ConversationRecord } from '../runtime/conversations.ts';
import { ConfigError, httpStatusOf } from '../errors.ts';
import { parseLosslessMember } from '../envelope/lossless-body.ts';
import type { StateValue } from 'xstate';
import type { WorkflowFilter, WorkflowInfo, WorkflowStatus, Workflows } from '../workflows/workflow-types.ts';

/** What the HTTP layer needs from the runtime: its public API, not the transport. */
export interface HttpRuntime extends PublicRuntime {
  readonly deadLetters: Pick<DeadLetterStore, 'list' | 'get' | 'replay' | 'purge'>;
  conversation(from: string, correlation: string): Promise<ConversationRecord | undefined>;
  startConversation(request: RequestOptions): Promise<{ correlation: string }>;
  stats(): Promise<MailroomStats>;
  /** `GET /workflows`, `GET /workflows/{id}` read these; `POST /workflows…` start, signal, cancel and resume. */
  readonly workflows: Pick<Workflows, 'list' | 'get'> & Partial<Pick<Workflows, 'start' | 'send' | 'cancel' | 'resume'>>;
  /** The operators' lists over the stores (`GET /envelopes`, filtered dead letters, bulk replay and purge); without them `GET /dead-letters` lists the newest only. */
  readonly queries?: AdminQueryRuntime['queries'];
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
  /** `inbox.maxPending`: `POST /inbox` answers 503 + Retry-After while the backlog is at the limit. */
  readonly backlog?: BacklogGate;
  /**
   * Behind the ingress worker thread: listen on this Unix socket (in a 0700 directory) instead
   * of host/port; the worker owns the public port, answers the public routes itself and passes
   * every other request on here with its real peer under `secret` (see peer-forwarding.ts).
   * `url` is the worker's public URL.
   */
  readonly forwarded?: { readonly path: string; readonly secret: string; readonly url: string };
  /** The hosted domains' manifests, answered to `Manifest@Domain` on `POST /inbox`. */
  readonly manifests?: HostedManifests;
}

export type { HttpPlugin } from '../core/mailroom-types.ts';

export interface HttpServer {
  readonly url: string;
  /** Where the admin routes are served: the admin listener's URL, or `url` without one. */
  readonly adminUrl: string;
  readonly app: FastifyInstance;
  /** What `POST /inbox` answered on this server, and how fast (the ingress worker keeps its own). */
  readonly inbox: InboxRecorder;
  stop(): Promise<void>;
}

const WORKFLOW_STATUSES: readonly WorkflowStatus[] = ['running', 'done', 'failed', 'cancelled', 'parked'];

/** A workflow as `GET /workflows` lists it: without its context and history (`GET /workflows/{id}` has them). */
export type WorkflowSummary = Omit<WorkflowInfo, 'context' | 'history' | 'output'> & { readonly lastEvent?: string };

function workflowSummary(info: WorkflowInfo): WorkflowSummary {
  const { context: _context, history, output: _output, ...rest } = info;
  const last = history[history.length - 1];
  return { ...rest, ...(last ? { lastEvent: last.event } : {}) };
}

/**
 * The HTTP face of a runtime (`serveMailroom` calls it). Answers 202 to `POST /inbox` only
 * after JetStream stored the envelope.
 *
 * Public (no token; see public-routes.ts, also served by the ingress worker thread):
 * - `POST /inbox` (`?callback=` or `Mailroom-Callback`: a completion callback URL)
 * - `GET /healthz`, `GET /readyz`
 * - `GET /status/{from}/{correlation}/{hash}/{token}`: the capability status URL of a 202
 *
 * Admin (a bearer token, or a loopback peer when no token is configured; see admin-auth.ts):
 * - `GET /envelopes/{from}/{correlation}`: an envelope's status
 * - `GET /envelopes`, `GET /envelopes/{from}/{correlation}/detail`, `POST /envelopes/outcomes`
 *   (see admin-envelopes.ts)
 * - `GET /dead-letters` (filters, `?cursor=&limit=`), `GET /dead-letters/groups`,
 *   `POST /dead-letters/replay`, `POST /dead-letters/purge` (filtered sets; admin-dead-letters.ts),
 *   `GET /dead-letters/{id}`, `POST /dead-letters/{id}/replay`, `DELETE /dead-letters/{id}`, `DELETE /dead-letters`
 * - `GET /stats`
 * - `GET /conversations/{from}/{correlation}`, `POST /conversations` (as a domain of `sendAs`)
 * - `GET /workflows` (`?status=&name=&state=&limit=`), `GET /workflows/{id}`, `POST /workflows`,
 *   `POST /workflows/{id}/events`, `POST /workflows/{id}/cancel`, `POST /workflows/{id}/resume`
 * - every plugin route (dashboard, `/metrics` unless `metrics: 'public'`)
 */
export async function startHttpServer(runtime: HttpRuntime, options: HttpServerOptions): Promise<HttpServer> {
  const https = options.tls ? { key: await readFile(options.tls.key), cert: await readFile(options.tls.cert) } : null;
  const readTimeoutMs = options.readTimeoutMs ?? 10_000;
  // Node's own request timeout is the backstop (headers, and a body the hook below missed): it answers a bare 408.
  const nodeTimeouts = { headersTimeout: readTimeoutMs, requestTimeout: readTimeoutMs + Math.max(1_000, readTimeoutMs), connectionsCheckingInterval: Math.min(30_000, Math.max(100, readTimeoutMs / 2)) };
  const adminRequests = new WeakSet<IncomingMessage>();
  const forwarded = options.forwarded;
  const peers = new WeakMap<IncomingMessage, Peer>();
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
      if (!forwarded) return makeServer(handler);
      // Only the ingress worker reaches this socket; the peer it passes on counts only with the secret.
      return createServer(nodeTimeouts, (req, res) => {
        const peer = takeForwardedPeer(req, forwarded.secret);
        if (peer) peers.set(req, peer);
        handler(req, res);
      });
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
    // Behind the worker: the peer it saw; a request here without the secret has no address (never loopback).
    ...(forwarded ? { peerOf: (raw: IncomingMessage) => peers.get(raw) ?? (adminRequests.has(raw) ? socketPeer(raw) : { address: undefined, encrypted: false }) } : {}),
  });
  const recorder = new InboxRecorder();
  let baseUrl = options.publicUrl ?? '';
  registerPublicRoutes(app, runtime, {
    maxBodyBytes: options.maxBodyBytes,
    readTimeoutMs,
    secret,
    baseUrl: () => baseUrl,
    ...(options.backlog ? { backlog: options.backlog } : {}),
    recorder,
    ...(options.manifests ? { manifests: options.manifests } : {}),
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
  const queries = runtime.queries;
  if (queries) {
    registerAdminEnvelopeRoutes(app, { queries, deadLetters: runtime.deadLetters, conversation: (from, correlation) => runtime.conversation(from, correlation) });
    registerAdminDeadLetterRoutes(app, queries.deadLetters);
  } else {
    app.get<{ Querystring: { limit?: string } }>('/dead-letters', async (request) => {
      const limit = Math.min(1000, Math.max(1, Number(request.query.limit ?? 100) || 100));
      return { deadLetters: await runtime.deadLetters.list({ limit }) };
    });
  }
  app.get<{ Params: { id: string } }>('/dead-letters/:id', async (request, reply) => {
    const id = deadLetterId(request.params.id, reply);
    if (id === undefined) return reply;
    const letter = await runtime.deadLetters.get(id);
    return letter ? letter : problem(reply, 404, 'not-found', `no dead letter ${id}`);
  });
  app.post<{ Params: { id: string } }>('/dead-letters/:id/replay', async (request, reply) => {
    const id = deadLetterId(request.params.id, reply);
    if (id === undefined) return reply;
    const at = new Date().toISOString();
    const replayed = await runtime.deadLetters.replay(id, { by: adminWho(request) ?? 'http' });
    return replayed ? reply.code(202).send({ ...replayed, at }) : problem(reply, 404, 'not-found', `no dead letter ${id}`);
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
    // The body is signed as the client wrote it: 1.0, -0.0 and 12345678901234567890 stay so.
    const lossless = parseLosslessMember(Buffer.from(request.body as Buffer).toString('utf8'), 'body');
    if (!lossless.ok) return problem(reply, 400, 'malformed', `body: ${lossless.error.detail}`);
    body = { ...body, ...(lossless.value !== undefined ? { body: lossless.value } : {}) };
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
      // The one ConfigError this route meets: a `from` not hosted here. Its status is httpStatusOf's; its code names the case.
      const answer = httpStatusOf(error);
      if (answer && error instanceof ConfigError) return problem(reply, answer.status, 'not-local', error.message);
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
  /** A workflow error as its problem (`httpStatusOf`); anything else is rethrown (500). */
  const workflowError = (reply: FastifyReply, error: unknown) => {
    const answer = httpStatusOf(error);
    if (!answer) throw error;
    return problem(reply, answer.status, answer.error, (error as Error).message);
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

  for (const plugin of options.plugins ?? []) await plugin(app);
  const admin = adminServer;
  if (admin) {
    app.addHook('onClose', async () => {
      const closed = new Promise<void>((resolve) => admin.close(() => resolve()));
      admin.closeIdleConnections();
      await closed;
    });
  }
  if (forwarded) await app.listen({ path: forwarded.path });
  else await app.listen({ host: options.host, port: options.port });
  const urlOf = (server: Server, listenHost: string, fallbackPort: number) => {
    const address = server.address();
    const port = typeof address === 'object' && address ? address.port : fallbackPort;
    const host = listenHost.includes(':') ? `[${listenHost}]` : listenHost === '0.0.0.0' ? '127.0.0.1' : listenHost;
    return `${https ? 'https' : 'http'}://${host}:${port}`;
  };
  const url = forwarded ? forwarded.url : urlOf(app.server, options.host, options.port);
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
  return { url, adminUrl, app, inbox: recorder, stop: () => (stopped ??= app.close()) };
}
