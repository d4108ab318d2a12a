/**
 * The body of the ingress worker thread: `POST /inbox` and the other public routes on the
 * public port, with its own NATS connection, on an event loop that envelope processing never
 * runs on. Every other request goes to the runtime's server over the private channel
 * (peer-forwarding.ts). Talks to the runtime's thread by messages (see ingress.ts).
 * @internal
 */
import { batchedSink, registerAccessLog } from './access-log.ts';
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type RequestListener } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { parentPort, workerData } from 'node:worker_threads';
import Fastify, { type FastifyInstance } from 'fastify';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { defaultParseLimits } from '../envelope/index.ts';
import { connectNats } from '../transport/connect.ts';
import { CONNECTION_NAMES, createNames } from '../transport/names.ts';
import { registerPublicRoutes } from './public-routes.ts';
import { InboxRecorder } from './inbox-recorder.ts';
import { createForwarder } from './peer-forwarding.ts';
import { acceptEnvelope } from '../runtime/inbox.ts';
import { createPublicEnvelopes } from '../runtime/public-envelopes.ts';
import { createInboxRouter } from '../runtime/ordering.ts';
import { StatusStore } from '../runtime/status-store.ts';
import { inboxBacklogReader, startBacklogGate } from '../runtime/backlog-gate.ts';
import { Health, type Readiness } from '../runtime/health.ts';
import type { IngressSpec, IngressToRuntime, RuntimeToIngress } from './ingress.ts';

const spec = workerData as IngressSpec;
const port = parentPort!;
const say = (message: IngressToRuntime) => port.postMessage(message);
const onError = (error: unknown, context: string) => say({ type: 'error', context, message: error instanceof Error ? error.message : String(error) });

const KEEP_ALIVE_MS = 72_000;

/** The public routes, exactly (anything else, even a near miss, goes to the runtime's server, which decides). */
const STATUS_PATH = /^\/status\/[^/]+\/[^/]+\/[^/]+\/[^/]+$/;
function isPublic(req: IncomingMessage): boolean {
  const url = req.url ?? '';
  const q = url.indexOf('?');
  const path = q < 0 ? url : url.slice(0, q);
  if (req.method === 'POST') return path === '/inbox';
  if (req.method === 'GET' || req.method === 'HEAD') return path === '/healthz' || path === '/readyz' || STATUS_PATH.test(path);
  return false;
}

async function main(): Promise<void> {
  const names = createNames(spec.prefix);
  const nc = await connectNats({ url: spec.natsUrl, name: CONNECTION_NAMES.ingress, ...spec.natsSecurity });
  let connected = true;
  void (async () => {
    for await (const s of nc.status()) {
      if (s.type === 'disconnect') connected = false;
      else if (s.type === 'reconnect') connected = true;
    }
  })();
  const js = jetstream(nc);
  const jsm = await jetstreamManager(nc);
  const status = new StatusStore(await new Kvm(js).open(names.buckets.status), names.statusKey);
  const partitions = spec.ordering?.partitions ?? 0;
  const by = spec.ordering?.by;
  const subjectFor = createInboxRouter(names, by ? (h) => (by === 'sender' ? h.From : h.Subject) : undefined, partitions);
  const limits = { ...defaultParseLimits, maxBytes: spec.http.maxBodyBytes };
  const gate = startBacklogGate({ read: inboxBacklogReader(jsm, names, partitions), ...(spec.inbox.maxPending !== undefined ? { maxPending: spec.inbox.maxPending } : {}), retryAfterMs: spec.inbox.retryAfterMs, onError });
  const recorder = new InboxRecorder();
  const health = new Health({ connection: { isConnected: () => connected && !nc.isClosed() }, jsm, names });
  const forwarder = createForwarder(spec.forward.path, spec.forward.secret);
  // Ready = this thread can store (its NATS connection, the inbox stream) AND the runtime's
  // server answers the routes passed on to it: it starts after this thread listens, and
  // stops before it.
  const ready = async (): Promise<Readiness> => {
    const [own, runtimeUp] = await Promise.all([health.ready(), forwarder.reachable()]);
    if (!runtimeUp) return { ready: false, detail: "the runtime's HTTP server does not answer yet (starting, or stopping)" };
    return own;
  };
  const publicEnvelopes = createPublicEnvelopes({ subjects: spec.publicSubjects ?? {}, ...spec.publicLimit });

  const { http } = spec;
  const tls = http.tls ? { key: await readFile(http.tls.key), cert: await readFile(http.tls.cert) } : null;
  const readTimeoutMs = http.readTimeoutMs;
  const nodeTimeouts = { headersTimeout: readTimeoutMs, requestTimeout: readTimeoutMs + Math.max(1_000, readTimeoutMs), connectionsCheckingInterval: Math.min(30_000, Math.max(100, readTimeoutMs / 2)) };
  const app = Fastify({
    bodyLimit: http.maxBodyBytes,
    logger: false,
    serverFactory: (handler) => {
      const route: RequestListener = (req, res) => (isPublic(req) ? handler(req, res) : forwarder.forward(req, res));
      // Fastify's own keep-alive default (a server factory gets Node's 5 s): a sender's idle connection is not closed under it as it reuses it.
      const options = { ...nodeTimeouts, keepAliveTimeout: KEEP_ALIVE_MS };
      return tls ? createHttpsServer({ ...tls, ...options }, route) : createServer(options, route);
    },
  }) as unknown as FastifyInstance;
  let baseUrl = http.publicUrl ?? '';
  registerPublicRoutes(
    app,
    {
      accept: (input, format, trace, callback, client) =>
        acceptEnvelope(input, format, { js, names, subjectFor, status, limits, isConnected: () => connected && !nc.isClosed(), publishTimeoutMs: spec.publishTimeoutMs, onError, publicEnvelopes }, trace, callback, client),
      status: (from, correlation) => status.get(from, correlation),
      ready,
    },
    { maxBodyBytes: http.maxBodyBytes, readTimeoutMs, secret: Buffer.from(spec.statusSecret), baseUrl: () => baseUrl, backlog: gate, recorder, ...(spec.manifests ? { manifests: spec.manifests } : {}) },
  );
  const accessLog = batchedSink((entries) => say({ type: 'access', entries }));
  registerAccessLog(app, accessLog.sink);
  await app.listen({ host: http.host, port: http.port });
  const address = app.server.address();
  const listenPort = typeof address === 'object' && address ? address.port : http.port;
  const host = http.host.includes(':') ? `[${http.host}]` : http.host === '0.0.0.0' ? '127.0.0.1' : http.host;
  const url = `${tls ? 'https' : 'http'}://${host}:${listenPort}`;
  if (!baseUrl) baseUrl = url;

  let stopping: Promise<void> | undefined;
  port.on('message', (message: RuntimeToIngress) => {
    if (message.type === 'snapshot') say({ type: 'snapshot', id: message.id, snapshot: recorder.snapshot(gate.backlog()) });
    else if (message.type === 'stop') {
      stopping ??= (async () => {
        gate.stop();
        await app.close().catch((error: unknown) => onError(error, 'closing the HTTP server'));
        forwarder.close();
        accessLog.flush();
        await nc.drain().catch(() => nc.close());
        say({ type: 'stopped' });
        port.close();
      })();
    }
  });
  say({ type: 'ready', url });
}

main().catch((error: unknown) => {
  say({ type: 'failed', message: error instanceof Error ? error.message : String(error), ...(error instanceof Error && (error as { code?: unknown }).code ? { code: String((error as { code?: unknown }).code) } : {}) });
  port.close();
});
