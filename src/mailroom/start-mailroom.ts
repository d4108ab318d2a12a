/**
 * `startMailroom`: the whole of a Mailroom, wired in the order its parts need. Runtime and
 * workflows come from `src/core/`, HTTP from `src/http/`; neither knows the other, this
 * module joins them.
 */
import { EventEmitter } from 'node:events';
import { MANIFEST_SUBJECT, manifestOf, publicSubjectsOf, type MailroomConfig } from '../config/index.ts';
import { publicSubjectMap } from '../config/manifest-config.ts';
import { ConfigError } from '../errors.ts';
import { connectRuntime, type ConnectedRuntime, type OnError } from '../core/connect-runtime.ts';
import type { Mailroom, MailroomEvents, MailroomOptions } from '../core/mailroom-types.ts';
import { startRuntime } from '../core/start-runtime.ts';
import { inboxBacklogReader, startBacklogGate } from '../runtime/backlog-gate.ts';
import { ResourceScope } from '../runtime/resource-scope.ts';
import { natsSecurity } from '../transport/connect.ts';
import type { HttpServer } from '../http/http-server.ts';
import { startIngressWorker, type IngressWorker } from '../http/ingress.ts';
import type { HostedManifests } from '../http/manifest-route.ts';
import { serveMailroom } from '../http/serve-mailroom.ts';
import { statusSecret } from '../http/status-capability.ts';
import { lowerThreadPriority } from './thread-priority.ts';

/**
 * Creates and starts a Mailroom runtime: NATS (embedded when no URL is configured),
 * streams and buckets, the inbox consumer (one XState actor per envelope), the outbox
 * worker and the HTTP server.
 *
 * @example
 * ```ts
 * const mailroom = await startMailroom(await loadConfig('mailroom.yaml'), {
 *   handlers: { 'orders.example': { 'Hello@Host': ({ body }) => ({ text: 'hello back' }) } },
 * });
 * // ... later
 * await mailroom.stop();
 * ```
 */
export async function startMailroom(config: MailroomConfig, options: MailroomOptions = {}): Promise<Mailroom> {
  const scope = new ResourceScope();
  const events = options.events ?? new EventEmitter<MailroomEvents>();
  const onError: OnError =
    options.onError ??
    ((error: unknown, context: string) => {
      if (events.listenerCount('error') > 0) events.emit('error', error, context);
      else process.stderr.write(`mailroom: ${context}: ${error instanceof Error ? error.message : String(error)}\n`);
    });
  try {
    const connected = await connectRuntime(config, options, { scope, events, onError });
    const serve = options.http !== false;
    const secret = statusSecret(config.http.statusSecret, [...connected.domains.identities.values()].map((i) => ({ name: i.name, key: i.key.key })));
    // The ingress thread first, so that the threads this one starts later (the crypto pool)
    // inherit the lower priority of processing (processingNice), and the inbox answers while
    // the rest starts (what it accepts waits in JetStream).
    let ingress: IngressWorker | undefined;
    if (serve && options.ingress === 'worker') {
      if (options.orderingKey) throw new ConfigError('ingress: worker needs the ordering from the config (delivery.ordering), not an orderingKey function: a function cannot cross to the worker thread');
      ingress = await scope.acquire(() => startIngress(connected, secret), (w) => w.stop());
      if (options.processingNice) lowerThreadPriority(options.processingNice, onError);
    }
    const runtime = await startRuntime(connected, options);

    const { maxPending, retryAfterMs } = config.inbox;
    const backlog =
      serve && !ingress && maxPending !== undefined
        ? await scope.acquire(
            async () => startBacklogGate({ read: inboxBacklogReader(connected.handles.jsm, connected.names, connected.ordering.partitions), maxPending, retryAfterMs, onError }),
            (g) => g.stop(),
          )
        : undefined;
    let http: HttpServer | undefined;
    if (serve) {
      const { http: h } = config;
      http = await scope.acquire(
        () =>
          serveMailroom(runtime, {
            host: h.host,
            port: h.port,
            maxBodyBytes: h.maxBodyBytes,
            ...(h.publicUrl ? { publicUrl: h.publicUrl } : {}),
            ...(h.tls ? { tls: h.tls } : {}),
            ...(options.httpPlugins ? { plugins: options.httpPlugins } : {}),
            adminTokens: h.adminTokens,
            ...(h.admin ? { admin: h.admin } : {}),
            metrics: h.metrics,
            statusSecret: secret,
            ...(backlog ? { backlog } : {}),
            ...(ingress ? { ingress } : {}),
            sendAs: h.sendAs,
            readTimeoutMs: h.readTimeoutMs,
            manifests: hostedManifests(config),
            ...(options.onAudit ? { onAudit: options.onAudit } : {}),
          }),
        (server) => server.stop(),
      );
    }

    return {
      ...runtime,
      url: http?.url,
      adminUrl: http?.adminUrl,
      inboxMetrics: async () => (ingress ? ingress.snapshot() : http?.inbox.snapshot(backlog?.backlog())),
      stop: () => scope.close(),
    };
  } catch (error) {
    await scope.close();
    throw error;
  }
}

/** `POST /inbox` on a worker thread of its own, with its own NATS connection (`ingress: 'worker'`). */
function startIngress(connected: ConnectedRuntime, secret: Buffer): Promise<IngressWorker> {
  const { config, natsUrl, ordering, onError } = connected;
  const { http, inbox } = config;
  const by = config.delivery.ordering?.by;
  return startIngressWorker(
    {
      natsUrl,
      natsSecurity: natsSecurity(config.nats),
      prefix: config.nats.prefix,
      ...(by && ordering.partitions > 0 ? { ordering: { by, partitions: ordering.partitions } } : {}),
      http: {
        host: http.host,
        port: http.port,
        maxBodyBytes: http.maxBodyBytes,
        readTimeoutMs: http.readTimeoutMs,
        ...(http.publicUrl ? { publicUrl: http.publicUrl } : {}),
        ...(http.tls ? { tls: http.tls } : {}),
      },
      statusSecret: secret,
      inbox: { ...(inbox.maxPending !== undefined ? { maxPending: inbox.maxPending } : {}), retryAfterMs: inbox.retryAfterMs },
      publishTimeoutMs: 2_000,
      manifests: hostedManifests(config),
      publicSubjects: publicSubjectMap(config.domains),
      publicLimit: config.publicLimit,
    },
    onError,
  );
}

/** The hosted domains' manifests, by name, as `Manifest@Domain` answers them. */
function hostedManifests(config: MailroomConfig): HostedManifests {
  return Object.fromEntries(config.domains.filter((d) => publicSubjectsOf(d).includes(MANIFEST_SUBJECT)).map((d) => [d.name, manifestOf(d)]));
}
