/**
 * The composition root of the runtime: builds each part once, from the connected runtime, and
 * passes the parts to one another by name. Nothing here handles an envelope; the parts do:
 * `inbox.ts` stores what `accept` is given, the envelope runner handles the inbox, the outbox
 * worker delivers, the timer workers fire durable timers, `requests.ts` runs conversations.
 */
import { defaultParseLimits } from '../envelope/index.ts';
import type { DecodedEnvelope } from '../envelope/index.ts';
import { createCryptoPool, cryptoSigner, cryptoWorkerCount, type CryptoPool } from '../runtime/crypto-pool.ts';
import type { ResourceScope } from '../runtime/resource-scope.ts';
import { availableParallelism } from 'node:os';
import { Conversations } from '../runtime/conversations.ts';
import { DeadLetters } from '../runtime/dead-letters.ts';
import { DeadLetterStore } from '../runtime/dead-letter-store.ts';
import { DeadLetterQuery } from '../runtime/dead-letter-query.ts';
import { StatusQuery } from '../runtime/status-query.ts';
import { startEnvelopeRunner } from '../runtime/envelope-runner.ts';
import { FeedbackLimiter } from '../runtime/feedback-limiter.ts';
import { Health } from '../runtime/health.ts';
import { acceptEnvelope, type InboxDeps } from '../runtime/inbox.ts';
import { createPublicEnvelopes } from '../runtime/public-envelopes.ts';
import { publicSubjectMap } from '../config/manifest-config.ts';
import { Outbound, OutboundClaims } from '../runtime/outbound.ts';
import { startOutboxWorker } from '../runtime/outbox-worker.ts';
import { startPoisonWatcher } from '../runtime/poison-watcher.ts';
import { ReplayGuard } from '../runtime/replay-guard.ts';
import { Requests } from '../runtime/requests.ts';
import { Sender } from '../runtime/sender.ts';
import { StatusStore } from '../runtime/status-store.ts';
import { createThrottle } from '../runtime/throttle.ts';
import { Timers, startTimerWorker } from '../runtime/timers.ts';
import { Topics } from '../runtime/topics.ts';
import { inboxUrlFor } from '../config/index.ts';
import { kvStreamName } from '../transport/names.ts';
import { createCanonicalPolicy } from '../envelope/canonical-policy.ts';
import { WorkflowEngine } from '../workflows/workflow-engine.ts';
import { loadWorkflowModule } from '../workflows/workflow-module.ts';
import type { ConnectedRuntime } from './connect-runtime.ts';
import type { Mailroom, MailroomOptions } from './mailroom-types.ts';
import { inspectWorkflows } from './workflow-inspection.ts';

/** A started runtime before HTTP is attached: the {@link Mailroom} API less what the HTTP server adds, and `stop`. */
export type Runtime = Omit<Mailroom, 'url' | 'adminUrl' | 'inboxMetrics' | 'stop'>;

/**
 * The crypto pool a runtime uses: the `cryptoPool` option (a pool passed in is used and left
 * open; `true` starts one, `false` none), else the config's `crypto.workers`, else none. A pool
 * started here is closed with the runtime.
 * @internal
 */
export async function cryptoPoolFor(option: CryptoPool | boolean | undefined, workers: 'auto' | number | undefined, scope: ResourceScope): Promise<CryptoPool | undefined> {
  if (typeof option === 'object') return option;
  const size = option === true ? availableParallelism() : option === false || workers === undefined ? 0 : cryptoWorkerCount(workers);
  if (size === 0) return undefined;
  return scope.acquire(async () => createCryptoPool({ size }), (p) => p.close());
}

/** Starts consuming: timers, tasks, the poison watcher, the envelope runner, the outbox worker. Their stops go to the runtime's scope. */
export async function startRuntime(connected: ConnectedRuntime, options: MailroomOptions): Promise<Runtime> {
  const { config, scope, events, onError, domains, nc, connection, names, handles, ordering } = connected;
  const { js } = handles;
  const { delivery, validation } = config;
  const now = options.now ?? Date.now;
  const status = new StatusStore(handles.status, names.statusKey);
  const replay = new ReplayGuard(handles.replay, names.replayKey);
  const pool = await cryptoPoolFor(options.cryptoPool, config.crypto.workers, scope);
  const signer = pool ? cryptoSigner(pool) : undefined;
  const canonical = createCanonicalPolicy(config.peers, (domain, detail) => onError(new Error(detail), `canonical form of ${domain}`));
  const outbound = new Outbound(js, names.outboxSubject, undefined, signer, new OutboundClaims(handles.outbound, names.outboundKey), canonical);
  const timers = new Timers(js, names);
  const topics = new Topics(handles.subscriptions, outbound, config.topics);
  const conversations = new Conversations(handles.conversations, nc, names, timers, (change) => events.emit('conversation', change));
  await scope.acquire(
    async () => conversations.listen(),
    () => conversations.close(),
  );
  const sender = new Sender({ js, names, outbound, timers, domains, now });
  const requests = new Requests({ conversations, sender, domains, now });
  const workflows = new WorkflowEngine({
    kv: handles.workflows,
    names,
    timers,
    tasks: new Timers(js, names, names.taskSubject),
    now,
    request: requests.linked,
    conversation: (from, correlation) => conversations.get(from, correlation),
    registerHandler: (domain, subject, handler) => domains.registerHosted(domain, subject, handler),
    onError,
  });
  workflows.onChange((change) => events.emit('workflow', change));
  // Workflows have no live actor: their steps become synthetic inspection events (Stately Inspector).
  if (options.inspect) workflows.onChange(inspectWorkflows({ inspect: options.inspect, workflows, onError }).onChange);
  conversations.onFinished((link) => workflows.conversationFinished(link));
  const fromConfig = (await Promise.all(config.workflows.map((path) => loadWorkflowModule(path)))).flat();
  for (const { machine, options: workflowOptions } of [...fromConfig, ...(options.workflows ?? [])]) workflows.register(machine, workflowOptions);

  const maxWait = options.timerMaxWaitMs !== undefined ? { maxWaitMs: options.timerMaxWaitMs } : {};
  await scope.acquire(
    async () =>
      startTimerWorker({
        consumer: await js.consumers.get(names.streams.timers, names.consumers.timers),
        now,
        ...maxWait,
        stopGraceMs: delivery.stopGraceMs,
        handlers: { ...workflows.timerHandlers(), ...requests.timerHandlers(), ...sender.timerHandlers() },
        onError,
      }),
    (loop) => loop.stop(),
  );
  await scope.acquire(
    async () =>
      startTimerWorker({
        consumer: await js.consumers.get(names.streams.tasks, names.consumers.tasks),
        now,
        concurrency: delivery.concurrency,
        ...maxWait,
        stopGraceMs: delivery.stopGraceMs,
        handlers: workflows.taskHandlers(),
        onError,
      }),
    (loop) => loop.stop(),
  );
  const deadLetterStore = new DeadLetterStore(js, handles.jsm, names);
  const deadLetters = new DeadLetters(js, (msg) => {
    const parsed = names.parseSubject(msg.subject);
    return parsed ? names.dlqSubject(parsed.to, parsed.from) : names.dlqSubject('unknown', 'unknown');
  });
  // The shared inbox consumer, or (delivery.inboxConsumers: per-domain) one per hosted domain.
  const inboxConsumers = delivery.inboxConsumers === 'per-domain' ? [...domains.identities.keys()].map(names.inboxDomainConsumer) : [names.consumers.inbox];
  const partitionConsumers = Array.from({ length: ordering.partitions }, (_, p) => ({ stream: names.ordered.stream, consumer: names.ordered.consumer(p) }));
  await scope.acquire(
    async () =>
      startPoisonWatcher({
        nc,
        jsm: handles.jsm,
        consumers: [...inboxConsumers.map((consumer) => ({ stream: names.streams.inbox, consumer })), ...partitionConsumers],
        deadLetters,
        onError,
      }),
    (watcher) => watcher.stop(),
  );

  const keys = await domains.keyResolver();
  const publicEnvelopes = createPublicEnvelopes({ subjects: publicSubjectMap(config.domains), ...config.publicLimit });
  const limits = { ...defaultParseLimits, maxBytes: config.http.maxBodyBytes };
  const runner = await scope.acquire(
    async () =>
      startEnvelopeRunner({
        consumers: await Promise.all(inboxConsumers.map((consumer) => js.consumers.get(names.streams.inbox, consumer))),
        orderedConsumers: await Promise.all(partitionConsumers.map(({ stream, consumer }) => js.consumers.get(stream, consumer))),
        validator: {
          isLocalDomain: domains.isLocal,
          hasHandler: domains.hasHandler,
          keys,
          replay,
          window: { maxSkewMs: validation.maxSkewMs, ...(validation.maxAgeMs !== null ? { maxAgeMs: validation.maxAgeMs } : {}) },
          now,
          ...(signer ? { verifier: signer } : {}),
          isPublic: publicEnvelopes.isPublic,
        },
        limits,
        handlers: domains.handlers,
        identities: domains.identities,
        bufferOf: domains.bufferOf,
        feedbackLimiter: new FeedbackLimiter({ ...config.feedback, now, onSuppressed: (sender) => events.emit('feedbackSuppressed', { sender, reason: 'rate-limit' }) }),
        outbound,
        status,
        deadLetters,
        delivery: { maxAttempts: delivery.maxAttempts, concurrency: delivery.concurrency, ackWaitMs: delivery.ackWaitMs, retry: delivery.retry, subjects: delivery.subjects, handlerTimeoutMs: delivery.handlerTimeoutMs, stopGraceMs: delivery.stopGraceMs },
        throttle: await createThrottle({ subjects: delivery.subjects, ...(delivery.senderRate ? { senderRate: delivery.senderRate } : {}), now, js, names, leaseMs: delivery.ackWaitMs, replicas: config.nats.replicas, onError }),
        onSettled: (s, decoded: DecodedEnvelope | undefined) => events.emit('settled', s, decoded?.envelope),
        onTransition: (t) => events.emit('transition', t),
        callback: (url, s) => outbound.callback(url, s, s),
        answers: requests,
        onError,
        ...(options.inspect ? { inspect: options.inspect } : {}),
      }),
    (r) => r.stop(),
  );
  if (options.outboxWorker !== false)
    await scope.acquire(
      async () =>
        startOutboxWorker({
          consumer: await js.consumers.get(names.streams.outbox, names.consumers.outbox),
          js,
          names,
          inboxSubjectFor: (header) => ordering.inboxSubjectFor(header),
          isLocalDomain: domains.isLocal,
          inboxUrlFor: (domain) => inboxUrlFor(config, domain),
          allowPrivateNetworks: config.outbox.allowPrivateNetworks,
          maxAttempts: config.outbox.maxAttempts,
          retry: config.outbox.retry,
          deadLetters,
          concurrency: delivery.concurrency,
          stopGraceMs: delivery.stopGraceMs,
          onDelivered: (info) => events.emit('delivered', info),
          onError,
        }),
      (w) => w.stop(),
    );

  const inbox: InboxDeps = { js, names, subjectFor: ordering.inboxSubjectFor, status, limits, isConnected: connection.isConnected, publishTimeoutMs: 2_000, onError, publicEnvelopes };
  const health = new Health({ connection, jsm: handles.jsm, names, inboxConsumers });
  return {
    natsUrl: connected.natsUrl,
    names,
    events,
    handle: (domain, subject, handler) => domains.handlers.register(domain, subject, handler),
    accept: (input, format = 'auto', trace, callback, client) => acceptEnvelope(typeof input === 'string' ? Buffer.from(input) : input, format, inbox, trace, callback, client),
    send: sender.send,
    startConversation: requests.startConversation,
    request: requests.request,
    conversation: (from, correlation) => conversations.get(from, correlation),
    publish: (event) => topics.publish(domains.identityOf(event.from), event.topic, event.body ?? {}, event.eventId),
    subscribe: async (topic, domain, handler) => {
      if (handler) domains.registerHosted(domain, topic, handler);
      await topics.subscribe(topic, domain);
    },
    unsubscribe: (topic, domain) => topics.unsubscribe(topic, domain),
    status: (from, correlation) => status.get(from, correlation),
    deadLetters: deadLetterStore,
    queries: {
      envelopes: new StatusQuery({ js, jsm: handles.jsm }, kvStreamName(names.buckets.status), status),
      deadLetters: new DeadLetterQuery({ js, jsm: handles.jsm }, names.streams, deadLetterStore),
    },
    stats: () => health.stats(() => runner.inFlight(), pool),
    ready: health.ready,
    workflows,
  };
}
