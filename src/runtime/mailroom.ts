import { EventEmitter } from 'node:events';
import { readFile } from 'node:fs/promises';
import { createPublicKey } from 'node:crypto';
import { getPriority, setPriority } from 'node:os';
import { isMainThread } from 'node:worker_threads';
import type { NatsConnection } from '@nats-io/transport-node';
import type { InspectionEvent } from 'xstate';
import { defaultParseLimits, type DecodedEnvelope, type EnvelopeDraft } from '../envelope/index.ts';
import type { Envelope } from '../envelope/types.ts';
import { chainKeyResolvers, createCachedKeyResolver, createDnsKeyResolver, createStaticKeyring, parsePrivateKey, type KeyringEntry } from '../keys/index.ts';
import { inboxUrlFor, type MailroomConfig } from '../config/index.ts';
import { connectNats } from '../transport/connect.ts';
import { createNames, type Names } from '../transport/names.ts';
import { provision } from '../transport/provision.ts';
import { startEmbeddedNatsServer } from '../transport/embedded-server.ts';
import { ConfigError, TransportError, TypeScriptModuleError } from '../errors.ts';
import { importUserModule } from '../user-module.ts';
import type { HttpPlugin, HttpServer } from '../http/http-server.ts';
import type { InboxSnapshot } from '../http/inbox-recorder.ts';
import { startIngressWorker, type IngressWorker } from './ingress.ts';
import { inboxBacklogReader, startBacklogGate } from './backlog-gate.ts';
import type { AuditEntry } from '../http/admin-auth.ts';
import { statusSecret } from '../http/status-capability.ts';
import type { TraceContext } from './trace-context.ts';
import { DeadLetters } from './dead-letters.ts';
import { DeadLetterStore } from './dead-letter-store.ts';
import { startPoisonWatcher } from './poison-watcher.ts';
import { startEnvelopeRunner, type EnvelopeTransition } from './envelope-runner.ts';
import { HandlerRegistry, type Handler, type HandlerMap } from './handlers.ts';
import { acceptEnvelope, type AcceptOutcome } from './inbox.ts';
import { Outbound, OutboundClaims, type DomainIdentity } from './outbound.ts';
import { startOutboxWorker } from './outbox-worker.ts';
import { ReplayGuard } from './replay-guard.ts';
import { ResourceScope } from './resource-scope.ts';
import { createCryptoPool, cryptoSigner, type CryptoPool } from './crypto-pool.ts';
import { Timers, startTimerWorker } from './timers.ts';
import { Throttle } from './throttle.ts';
import { FeedbackLimiter } from './feedback-limiter.ts';
import { createInboxRouter, type OrderingKey } from './ordering.ts';
import { Topics, type Publication } from './topics.ts';
import { Conversations, CONVERSATION_TIMEOUT, type ConversationChange, type ConversationRecord } from './conversations.ts';
import type { ConversationOutcome } from '../../machines/conversation.machine.ts';
import { StatusStore, isAlreadyExists, type EnvelopeStatus } from './status-store.ts';
import { WorkflowEngine } from '../workflows/workflow-engine.ts';
import { inspectWorkflows } from '../observability/workflow-inspection.ts';
import { loadWorkflowModule } from '../workflows/workflow-module.ts';
import type { WorkflowChange, WorkflowOptions, Workflows } from '../workflows/workflow-types.ts';
import type { AnyStateMachine } from 'xstate';

/** Options beside the config, for library use. */
export interface MailroomOptions {
  /** Handlers by local domain, in addition to the handler modules named in the config. */
  readonly handlers?: Readonly<Record<string, HandlerMap>>;
  /** Serve HTTP (default true). */
  readonly http?: boolean;
  /** Run the outbox worker that delivers replies and feedback (default true). */
  readonly outboxWorker?: boolean;
  /** Receives the inspection events of every actor (Stately Inspector). */
  readonly inspect?: (event: InspectionEvent) => void;
  /**
   * Ordered processing in code: the key of an envelope (undefined = no order). Overrides
   * `delivery.ordering` of the config; envelopes with the same key are handled one at a time,
   * in arrival order, across retries and processes.
   */
  readonly orderingKey?: OrderingKey;
  /** The clock used for timestamp checks (default `Date.now`). */
  readonly now?: () => number;
  /**
   * Where `POST /inbox` (and the other public routes) run. `inline` (the default): on this
   * thread, beside envelope processing. `worker`: on a worker thread of their own, with their
   * own NATS connection, so processing never delays the inbox's answer; the worker owns the
   * public port and passes every other request to this thread's server over a private Unix
   * socket. `mailroom start` uses `worker`. Needs `delivery.ordering` from the config rather than
   * an `orderingKey` function (a function cannot cross to the worker).
   */
  readonly ingress?: 'inline' | 'worker';
  /**
   * With `ingress: 'worker'`: lowers the OS scheduling priority of this thread (the one that
   * processes envelopes) by this nice increment (1–19; default 0: unchanged), once the ingress
   * thread has started at the old priority. When the cores are busy, the kernel then runs the
   * inbox first and processing with what is left: processing yields to ingress with strict
   * priority, without yielding in code. On Linux nice is per thread; threads started later by
   * this one (the crypto pool) inherit it. For a process of its own: `mailroom start` uses 10.
   * An embedding program's main thread would be lowered too. Cannot be undone without privileges.
   */
  readonly processingNice?: number;
  /** More HTTP routes (metrics, dashboard), registered before the server listens. */
  readonly httpPlugins?: readonly HttpPlugin[];
  /** An emitter to use for {@link Mailroom.events}, so listeners can be attached before start. */
  readonly events?: EventEmitter<MailroomEvents>;
  /** Where runtime errors go (default: stderr). */
  readonly onError?: (error: unknown, context: string) => void;
  /** Receives one entry per admin action over HTTP (replay, purge, workflow start/send/cancel/resume, conversation start). */
  readonly onAudit?: (entry: AuditEntry) => void;
  /**
   * Signature work (verify on the inbox, sign on the outbox) on worker threads: `true` starts a
   * pool with one worker per core, closed at stop; a pool passed in is used and left open.
   * Default: on the event loop.
   */
  readonly cryptoPool?: CryptoPool | boolean;
  /** Workflow kinds to register before anything is consumed (more can be registered later with `workflows.register`). */
  readonly workflows?: readonly { readonly machine: AnyStateMachine; readonly options?: WorkflowOptions }[];
  /**
   * The longest a durable timer waits before it looks at the clock again (default one day).
   * The test kit sets it short, so a clock moved forward fires timers at once.
   */
  readonly timerMaxWaitMs?: number;
}

/** Events a running Mailroom emits. */
export interface MailroomEvents {
  /** An envelope actor of this process reached a final state (after its message was settled). */
  settled: [status: EnvelopeStatus, envelope: Envelope | undefined];
  /** A conversation this process started is waiting (awaitingReply), or ended (replied, discarded, timedOut). */
  conversation: [change: ConversationChange];
  /** An envelope actor of this process entered a state. */
  transition: [transition: EnvelopeTransition];
  /** The outbox delivered an envelope. */
  delivered: [info: { to: string; from: string; local: boolean; status?: number }];
  /** A workflow step was stored by this process. */
  workflow: [change: WorkflowChange];
  /** Feedback about a discarded envelope was not sent: its claimed sender is over the `feedback` rate. */
  feedbackSuppressed: [info: { sender: string; reason: 'rate-limit' }];
  /** The NATS connection was lost (the inbox answers 503) or is back. A loss is also reported to `onError`. */
  nats: [change: { type: 'disconnect' | 'reconnect'; server: string }];
  error: [error: unknown, context: string];
}

/** A request for {@link Mailroom.request}. */
export interface RequestOptions {
  readonly from: string;
  readonly to: string;
  readonly subject: string;
  readonly body?: Envelope['Body'];
  /** How long to wait for the reply (default 30 s). The timeout is a durable timer. */
  readonly timeoutMs?: number;
  readonly correlation?: string;
}

/** Queue depths, from JetStream (so they count every process sharing the consumers). */
export interface MailroomStats {
  readonly inbox: { readonly waiting: number; readonly inFlight: number; readonly redelivered: number };
  readonly outbox: { readonly waiting: number; readonly inFlight: number; readonly redelivered: number };
  readonly deadLetters: number;
  /** Envelope actors running in this process. */
  readonly actors: number;
}

/** A started Mailroom runtime. */
export interface Mailroom {
  /** The HTTP base URL (`undefined` with `http: false`). */
  readonly url: string | undefined;
  /** Where the admin routes are served: the `http.admin` listener's URL, else {@link Mailroom.url}. */
  readonly adminUrl: string | undefined;
  /** The NATS server URL in use (the embedded server's when none was configured). */
  readonly natsUrl: string;
  readonly names: Names;
  readonly events: EventEmitter<MailroomEvents>;
  /** Registers a handler for a local domain's subject. */
  handle(domain: string, subject: string, handler: Handler): void;
  /** Offers a signed envelope to the inbox (what `POST /inbox` does). */
  accept(input: Uint8Array | string, format?: 'json' | 'yaml' | 'auto', trace?: TraceContext, callback?: string): Promise<AcceptOutcome>;
  /**
   * Signs an envelope as a local domain and sends it through the outbox; with `delayMs` or
   * `notBefore` (epoch ms) it waits in a durable timer and is delivered no earlier.
   */
  send(draft: EnvelopeDraft & { From: string }, options?: { delayMs?: number; notBefore?: number }): Promise<Envelope>;
  /**
   * Sends a request and waits for its reply, as a conversation matched by correlation. The
   * waiting conversation is passivated to KV; the reply, feedback or timeout may be handled
   * by any process. Resolves with the outcome (replied, discarded or timedOut) while this
   * process lives; afterwards the outcome stays readable with {@link Mailroom.conversation}.
   */
  request(request: RequestOptions): Promise<ConversationOutcome>;
  /**
   * Starts a conversation without waiting: resolves once it is stored and its request sent, with
   * its correlation (for {@link Mailroom.conversation}) and `outcome`, which waits for its end
   * like {@link Mailroom.request}. The wait starts when `outcome` is first read: a conversation
   * whose outcome nobody reads holds nothing in this process while it waits.
   */
  startConversation(request: RequestOptions): Promise<{ readonly correlation: string; readonly outcome: Promise<ConversationOutcome> }>;
  /**
   * Publishes an event on a topic as a local domain: every subscribed domain gets its own
   * signed, durable copy (Subject = the topic) and its own envelope actor.
   */
  publish(event: { from: string; topic: string; body?: Envelope['Body']; eventId?: string }): Promise<Publication>;
  /**
   * Subscribes a domain to a topic, for every process sharing this NATS. With a handler, the
   * domain must be hosted here and the handler handles the topic's events for it.
   */
  subscribe(topic: string, domain: string, handler?: Handler): Promise<void>;
  unsubscribe(topic: string, domain: string): Promise<void>;
  /** A conversation's state and context, by the requesting domain and the correlation. */
  conversation(from: string, correlation: string): Promise<ConversationRecord | undefined>;
  /** The status of an envelope received here, by sender and correlation. */
  status(from: string, correlation: string): Promise<EnvelopeStatus | undefined>;
  /** The dead letters: list, show, replay (through a fresh actor, same correlation), purge. */
  readonly deadLetters: DeadLetterStore;
  /** Queue depths: what waits in the inbox and outbox, what is being worked on, the dead letters. */
  stats(): Promise<MailroomStats>;
  /** What `POST /inbox` answered and how fast, wherever it runs (`undefined` without HTTP). For `/metrics`. */
  inboxMetrics(): Promise<InboxSnapshot | undefined>;
  /** Durable workflows: register machines, start them, send them events, read them. */
  readonly workflows: Workflows;
  /**
   * Stops taking work, lets the actors in flight finish (at most `delivery.stopGrace`; then their
   * handlers' signals are aborted and their envelopes handed back to the queue), releases everything.
   * Idempotent.
   */
  stop(): Promise<void>;
}

/** What {@link Mailroom.startConversation} resolves with: the outcome is waited for only once read. */
class StartedConversation {
  readonly #conversations: Conversations;
  readonly #from: string;
  readonly #mark: number;
  #outcome: Promise<ConversationOutcome> | undefined;
  constructor(
    conversations: Conversations,
    from: string,
    readonly correlation: string,
    mark: number,
  ) {
    this.#conversations = conversations;
    this.#from = from;
    this.#mark = mark;
  }

  get outcome(): Promise<ConversationOutcome> {
    // The request is out: it may have been answered already, so the wait checks KV unless no conversation ended since the mark.
    return (this.#outcome ??= this.#conversations.wait(this.#from, this.correlation, this.#mark));
  }
}

/** Lowers this thread's scheduling priority (Linux: per thread, `setpriority` on the main thread's id is the process id). */
function lowerThreadPriority(increment: number, onError: (error: unknown, context: string) => void): void {
  if (!Number.isInteger(increment) || increment < 1 || increment > 19) throw new ConfigError(`processingNice is a nice increment from 1 to 19, not ${increment}`);
  try {
    if (!isMainThread) throw new Error('only the main thread can be reniced by its process id');
    setPriority(process.pid, Math.min(19, getPriority(process.pid) + increment));
  } catch (error) {
    onError(error, 'lowering the priority of envelope processing (processingNice)');
  }
}

/** The timer kind of an envelope sent with a delay. */
const DELAYED_SEND = 'send.delayed';

async function loadHandlerModule(path: string): Promise<HandlerMap> {
  let mod: { default?: unknown; handlers?: unknown };
  try {
    mod = (await importUserModule(path)) as typeof mod;
  } catch (cause) {
    if (cause instanceof TypeScriptModuleError) throw cause;
    throw new ConfigError(`cannot load the handlers module ${path}`, [], { cause });
  }
  const map = mod.handlers ?? mod.default;
  if (typeof map !== 'object' || map === null) throw new ConfigError(`${path} must export its handlers by subject (export default { 'Hello@Host': fn })`);
  for (const [subject, fn] of Object.entries(map)) {
    if (typeof fn !== 'function') throw new ConfigError(`${path}: the handler for ${subject} is not a function`);
  }
  return map as HandlerMap;
}

async function loadIdentities(config: MailroomConfig): Promise<Map<string, DomainIdentity>> {
  const identities = new Map<string, DomainIdentity>();
  for (const domain of config.domains) {
    let pem: string;
    try {
      pem = await readFile(domain.privateKey, 'utf8');
    } catch (cause) {
      throw new ConfigError(`cannot read the private key of ${domain.name}: ${domain.privateKey}`, [], { cause });
    }
    identities.set(domain.name, { name: domain.name, selector: domain.selector, key: parsePrivateKey(pem) });
  }
  return identities;
}

async function keyringEntries(config: MailroomConfig, identities: Map<string, DomainIdentity>): Promise<KeyringEntry[]> {
  const entries: KeyringEntry[] = [];
  for (const trusted of config.keys.trusted) {
    const key = typeof trusted.key === 'string' ? trusted.key : await readFile(trusted.key.file, 'utf8');
    entries.push({ domain: trusted.domain, selector: trusted.selector, key });
  }
  // Domains hosted here trust their own keys, so they can talk to each other without DNS.
  for (const identity of identities.values()) {
    const publicPem = createPublicKey(identity.key.key).export({ type: 'spki', format: 'pem' }).toString();
    entries.push({ domain: identity.name, selector: identity.selector, key: publicPem });
  }
  return entries;
}

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
  const onError =
    options.onError ??
    ((error: unknown, context: string) => {
      if (events.listenerCount('error') > 0) events.emit('error', error, context);
      else process.stderr.write(`mailroom: ${context}: ${error instanceof Error ? error.message : String(error)}\n`);
    });
  try {
    const names = createNames(config.nats.prefix);
    const identities = await loadIdentities(config);
    const handlers = new HandlerRegistry();
    for (const domain of config.domains) if (domain.handlers) handlers.registerAll(domain.name, await loadHandlerModule(domain.handlers));
    for (const [domain, map] of Object.entries(options.handlers ?? {})) handlers.registerAll(domain, map);

    let natsUrl = config.nats.url;
    if (natsUrl === undefined) {
      const embedded = config.nats.embedded;
      const server = await scope.acquire(
        () => startEmbeddedNatsServer({ storeDir: embedded.storeDir, port: embedded.port, ...(embedded.configFile ? { configFile: embedded.configFile } : {}) }),
        (s) => s.stop(),
      );
      natsUrl = server.url;
    }
    const nc: NatsConnection = await scope.acquire(
      () => connectNats({ url: natsUrl, name: 'mailroom' }),
      async (c) => {
        await c.drain().catch(() => c.close());
      },
    );
    let connected = true;
    void (async () => {
      for await (const s of nc.status()) {
        if (s.type === 'disconnect') {
          connected = false;
          events.emit('nats', { type: 'disconnect', server: s.server });
          onError(new TransportError(`lost the NATS connection to ${s.server}; POST /inbox answers 503 until it is back`), 'nats');
        } else if (s.type === 'reconnect') {
          connected = true;
          events.emit('nats', { type: 'reconnect', server: s.server });
        }
      }
    })();

    const { delivery, validation } = config;
    const ordering = delivery.ordering;
    const orderingKey: OrderingKey | undefined = options.orderingKey ?? (ordering ? (h) => (ordering.by === 'sender' ? h.From : h.Subject) : undefined);
    const partitions = orderingKey ? (ordering?.partitions ?? 16) : 0;
    const inboxSubjectFor = createInboxRouter(names, orderingKey, partitions);
    const handles = await provision(nc, names, {
      ...(partitions > 0 ? { ordered: { partitions } } : {}),
      // Above every subject's own maxAttempts, so the machine (not JetStream) decides when to give up.
      inbox: { maxDeliver: Math.max(delivery.maxAttempts, ...Object.values(delivery.subjects).map((s) => s.maxAttempts ?? 0)) + 2, ackWaitMs: delivery.ackWaitMs, duplicateWindowMs: Math.min(validation.replayWindowMs, 10 * 60_000) },
      outbox: { maxDeliver: config.outbox.maxAttempts + 2 },
      replayWindowMs: validation.replayWindowMs,
      statusTtlMs: config.status.ttlMs,
    });
    const { js } = handles;
    const status = new StatusStore(handles.status, names.statusKey);
    const replay = new ReplayGuard(handles.replay, names.replayKey);
    const secret = statusSecret(config.http.statusSecret, [...identities.values()].map((i) => ({ name: i.name, key: i.key.key })));
    // The ingress thread first, so that the threads this one starts later (the crypto pool)
    // inherit the lower priority of processing (processingNice), and the inbox answers while
    // the rest starts (what it accepts waits in JetStream).
    let ingress: IngressWorker | undefined;
    const inboxConfig = config.inbox;
    if (options.http !== false && options.ingress === 'worker') {
      if (options.orderingKey) throw new ConfigError('ingress: worker needs the ordering from the config (delivery.ordering), not an orderingKey function: a function cannot cross to the worker thread');
      ingress = await scope.acquire(
        () =>
          startIngressWorker(
            {
              natsUrl,
              prefix: config.nats.prefix,
              ...(ordering && partitions > 0 ? { ordering: { by: ordering.by, partitions } } : {}),
              http: {
                host: config.http.host,
                port: config.http.port,
                maxBodyBytes: config.http.maxBodyBytes,
                readTimeoutMs: config.http.readTimeoutMs,
                ...(config.http.publicUrl ? { publicUrl: config.http.publicUrl } : {}),
                ...(config.http.tls ? { tls: config.http.tls } : {}),
              },
              statusSecret: secret,
              inbox: { ...(inboxConfig.maxPending !== undefined ? { maxPending: inboxConfig.maxPending } : {}), retryAfterMs: inboxConfig.retryAfterMs },
              publishTimeoutMs: 2_000,
            },
            onError,
          ),
        (w) => w.stop(),
      );
      if (options.processingNice) lowerThreadPriority(options.processingNice, onError);
    }
    const pool = options.cryptoPool === true
      ? await scope.acquire(async () => createCryptoPool(), (p) => p.close())
      : options.cryptoPool || undefined;
    const signer = pool ? cryptoSigner(pool) : undefined;
    const outbound = new Outbound(js, names.outboxSubject, undefined, signer, new OutboundClaims(handles.outbound, names.outboundKey));
    const now = options.now ?? Date.now;
    const timers = new Timers(js, names);
    const topics = new Topics(handles.subscriptions, outbound, config.topics);
    const conversations = new Conversations(handles.conversations, nc, names, timers, (change) => events.emit('conversation', change));
    await scope.acquire(
      async () => conversations.listen(),
      () => conversations.close(),
    );
    const identityOf = (domain: string) => {
      const identity = identities.get(domain);
      if (!identity) throw new ConfigError(`${domain} is not a domain hosted here; it has no signing key`);
      return identity;
    };
    const send: Mailroom['send'] = async (draft, sendOptions = {}) => {
      const identity = identityOf(draft.From);
      const correlation = draft.Correlation ?? crypto.randomUUID();
      const msgId = `send/${draft.From}/${correlation}`;
      const notBefore = sendOptions.notBefore ?? (sendOptions.delayMs !== undefined ? now() + sendOptions.delayMs : undefined);
      // A given correlation may be sent again (a workflow's redelivered task): signed once, see OutboundClaims.
      const claim = { claim: draft.Correlation !== undefined };
      if (notBefore === undefined || notBefore <= now()) return outbound.publish(identity, { ...draft, Correlation: correlation }, 'send', msgId, claim);
      // Store and forward: signed now, held in a durable timer, put in the outbox when due.
      const { envelope, bytes } = await outbound.signOnce(identity, { ...draft, Correlation: correlation }, msgId, claim);
      const data = Buffer.from(bytes).toString('base64');
      await timers.schedule(DELAYED_SEND, msgId, notBefore, { subject: names.outboxSubject(envelope.Header.To, envelope.Header.From), data, msgId });
      return envelope;
    };
    /**
     * Stores a conversation (awaitingReply) with its durable timeout; returns when it times out.
     * One with a `link` (a workflow's) may exist already, from an earlier try: that one is kept.
     */
    const openConversation = async (request: Omit<RequestOptions, 'correlation'>, correlation: string, link?: Readonly<Record<string, string>>): Promise<number> => {
      identityOf(request.from);
      const startedAt = now();
      const timeoutAt = startedAt + (request.timeoutMs ?? 30_000);
      try {
        await conversations.start({ from: request.from, to: request.to, subject: request.subject, correlation, startedAt, timeoutAt, ...(link ? { link } : {}) });
        return timeoutAt;
      } catch (error) {
        if (!link || !isAlreadyExists(error)) throw error;
        return (await conversations.get(request.from, correlation))?.context.timeoutAt ?? timeoutAt;
      }
    };
    const sendRequest = (request: Omit<RequestOptions, 'correlation'>, correlation: string) =>
      send({ From: request.from, To: request.to, Subject: request.subject, Correlation: correlation, ...(request.body !== undefined ? { Body: request.body } : {}) });
    const workflows = new WorkflowEngine({
      kv: handles.workflows,
      names,
      timers,
      tasks: new Timers(js, names, names.taskSubject),
      now,
      request: async (request) => {
        const timeoutAt = await openConversation(request, request.correlation, request.link);
        // Also when it was opened before (a redelivered task): the request may not have gone out; the outbox's dedupe keeps it single.
        await sendRequest(request, request.correlation);
        return { timeoutAt };
      },
      conversation: (from, correlation) => conversations.get(from, correlation),
      registerHandler: (domain, subject, handler) => {
        identityOf(domain);
        handlers.register(domain, subject, handler);
      },
      onError,
    });
    workflows.onChange((change) => events.emit('workflow', change));
    // Workflows have no live actor: their steps become synthetic inspection events (Stately Inspector).
    if (options.inspect) workflows.onChange(inspectWorkflows({ inspect: options.inspect, workflows, onError }).onChange);
    conversations.onFinished((link) => workflows.conversationFinished(link));
    const fromConfig = (await Promise.all(config.workflows.map((path) => loadWorkflowModule(path)))).flat();
    for (const { machine, options: workflowOptions } of [...fromConfig, ...(options.workflows ?? [])]) workflows.register(machine, workflowOptions);
    await scope.acquire(
      async () =>
        startTimerWorker({
          consumer: await js.consumers.get(names.streams.timers, names.consumers.timers),
          now,
          ...(options.timerMaxWaitMs !== undefined ? { maxWaitMs: options.timerMaxWaitMs } : {}),
          stopGraceMs: delivery.stopGraceMs,
          handlers: {
            ...workflows.timerHandlers(),
            [CONVERSATION_TIMEOUT]: async (payload) => {
              const { from, correlation } = payload as { from: string; correlation: string };
              await conversations.deliver(from, correlation, { type: 'conversation.timeout', at: now() });
            },
            [DELAYED_SEND]: async (payload) => {
              const { subject, data, msgId } = payload as { subject: string; data: string; msgId: string };
              await js.publish(subject, Buffer.from(data, 'base64'), { msgID: msgId });
            },
          },
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
          ...(options.timerMaxWaitMs !== undefined ? { maxWaitMs: options.timerMaxWaitMs } : {}),
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
    await scope.acquire(
      async () =>
        startPoisonWatcher({
          nc,
          jsm: handles.jsm,
          consumers: [
            { stream: names.streams.inbox, consumer: names.consumers.inbox },
            ...Array.from({ length: partitions }, (_, p) => ({ stream: names.ordered.stream, consumer: names.ordered.consumer(p) })),
          ],
          deadLetters,
          onError,
        }),
      (watcher) => watcher.stop(),
    );

    const keyring = createStaticKeyring(await keyringEntries(config, identities));
    const dns = config.keys.dns;
    const keys = dns.enabled
      ? chainKeyResolvers(
          keyring,
          createCachedKeyResolver(
            createDnsKeyResolver({ ...(dns.servers.length ? { servers: dns.servers } : {}), requireDnssec: dns.requireDnssec, timeoutMs: dns.timeoutMs }),
            { ttlMs: dns.cacheTtlMs },
          ),
        )
      : keyring;
    const buffers = new Map<string, string>();
    for (const [domain, manifest] of Object.entries(config.manifests)) if (manifest.feedback) buffers.set(domain, manifest.feedback);
    for (const domain of config.domains) if (domain.feedback) buffers.set(domain.name, domain.feedback);
    const isLocalDomain = (domain: string) => identities.has(domain);

    const runner = await scope.acquire(
      async () =>
        startEnvelopeRunner({
          consumer: await js.consumers.get(names.streams.inbox, names.consumers.inbox),
          orderedConsumers: await Promise.all(Array.from({ length: partitions }, (_, p) => js.consumers.get(names.ordered.stream, names.ordered.consumer(p)))),
          validator: {
            isLocalDomain,
            hasHandler: (domain, subject) => handlers.get(domain, subject) !== undefined,
            keys,
            replay,
            window: { maxSkewMs: validation.maxSkewMs, ...(validation.maxAgeMs !== null ? { maxAgeMs: validation.maxAgeMs } : {}) },
            now,
            ...(signer ? { verifier: signer } : {}),
          },
          limits: { ...defaultParseLimits, maxBytes: config.http.maxBodyBytes },
          handlers,
          identities,
          bufferOf: (sender) => buffers.get(sender),
          feedbackLimiter: new FeedbackLimiter({ ...config.feedback, now, onSuppressed: (sender) => events.emit('feedbackSuppressed', { sender, reason: 'rate-limit' }) }),
          outbound,
          status,
          deadLetters,
          delivery: { maxAttempts: delivery.maxAttempts, concurrency: delivery.concurrency, ackWaitMs: delivery.ackWaitMs, retry: delivery.retry, subjects: delivery.subjects, handlerTimeoutMs: delivery.handlerTimeoutMs, stopGraceMs: delivery.stopGraceMs },
          throttle: new Throttle({ subjects: delivery.subjects, ...(delivery.senderRate ? { senderRate: delivery.senderRate } : {}), now }),
          onSettled: (s, decoded: DecodedEnvelope | undefined) => events.emit('settled', s, decoded?.envelope),
          onTransition: (t) => events.emit('transition', t),
          callback: (url, s) => outbound.callback(url, s, s),
          answers: {
            reply: async (envelope) => {
              const { Header, Body } = envelope;
              await conversations.deliver(Header.To, Header.Correlation, { type: 'conversation.reply', subject: Header.Subject, body: Body, at: now() }, Header.From);
            },
            feedback: async (envelope) => {
              const body = envelope.Body as { Sender?: unknown; Correlation?: unknown; Reason?: unknown };
              if (typeof body.Sender !== 'string' || typeof body.Correlation !== 'string') return;
              const reason = typeof body.Reason === 'string' ? body.Reason : 'Discarded.';
              await conversations.deliver(body.Sender, body.Correlation, { type: 'conversation.feedback', reason, at: now() }, envelope.Header.From);
            },
          },
          onError,
          ...(options.inspect ? { inspect: options.inspect } : {}),
        }),
      (r) => r.stop(),
    );
    if (options.outboxWorker !== false) await scope.acquire(
      async () =>
        startOutboxWorker({
          consumer: await js.consumers.get(names.streams.outbox, names.consumers.outbox),
          js,
          names,
          inboxSubjectFor: (header) => inboxSubjectFor(header),
          isLocalDomain,
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

    const limits = { ...defaultParseLimits, maxBytes: config.http.maxBodyBytes };
    const accept = (input: Uint8Array | string, format: 'json' | 'yaml' | 'auto' = 'auto', trace?: TraceContext, callback?: string) =>
      acceptEnvelope(typeof input === 'string' ? Buffer.from(input) : input, format, {
        js,
        names,
        subjectFor: inboxSubjectFor,
        status,
        limits,
        isConnected: () => connected && !nc.isClosed(),
        publishTimeoutMs: 2_000,
        onError,
      }, trace, callback);
    const statusOf = (from: string, correlation: string) => status.get(from, correlation);
    const startConversation = async (request: RequestOptions) => {
      const correlation = request.correlation ?? crypto.randomUUID();
      await openConversation(request, correlation);
      // Before the request goes out: the conversation cannot have finished yet.
      const mark = conversations.mark();
      await sendRequest(request, correlation);
      return new StartedConversation(conversations, request.from, correlation, mark);
    };
    const request = async (request: RequestOptions) => {
      const correlation = request.correlation ?? crypto.randomUUID();
      await openConversation(request, correlation);
      // Just stored, its request not sent yet: it cannot have finished, so no KV read to check.
      const outcome = conversations.wait(request.from, correlation, false);
      await sendRequest(request, correlation);
      return outcome;
    };
    const stats = async (): Promise<MailroomStats> => {
      const consumer = async (stream: string, name: string) => {
        const info = await handles.jsm.consumers.info(stream, name);
        return { waiting: info.num_pending, inFlight: info.num_ack_pending, redelivered: info.num_redelivered };
      };
      return {
        inbox: await consumer(names.streams.inbox, names.consumers.inbox),
        outbox: await consumer(names.streams.outbox, names.consumers.outbox),
        deadLetters: (await handles.jsm.streams.info(names.streams.dlq)).state.messages,
        actors: runner.inFlight(),
      };
    };

    let http: HttpServer | undefined;
    const backlog =
      options.http !== false && !ingress && inboxConfig.maxPending !== undefined
        ? await scope.acquire(
            async () => startBacklogGate({ read: inboxBacklogReader(handles.jsm, names, partitions), maxPending: inboxConfig.maxPending, retryAfterMs: inboxConfig.retryAfterMs, onError }),
            (g) => g.stop(),
          )
        : undefined;
    if (options.http !== false) {
      // Loaded only here: a runtime without HTTP does not carry fastify (~15 MB of resident memory).
      const { startHttpServer } = await import('../http/http-server.ts');
      http = await scope.acquire(
        () =>
          startHttpServer(
            {
              accept,
              status: statusOf,
              deadLetters: deadLetterStore,
              stats: () => stats(),
              conversation: (from, correlation) => conversations.get(from, correlation),
              startConversation,
              workflows,
              // Ready = the inbox can store: connected, and its stream answers.
              ready: async () => {
                if (!connected || nc.isClosed()) return { ready: false, detail: 'NATS is disconnected' };
                try {
                  await handles.jsm.streams.info(names.streams.inbox);
                  return { ready: true, detail: 'NATS and the inbox stream answer' };
                } catch (error) {
                  return { ready: false, detail: `the inbox stream does not answer: ${error instanceof Error ? error.message : String(error)}` };
                }
              },
            },
            {
              host: config.http.host,
              port: config.http.port,
              maxBodyBytes: config.http.maxBodyBytes,
              ...(config.http.publicUrl ? { publicUrl: config.http.publicUrl } : {}),
              ...(config.http.tls ? { tls: config.http.tls } : {}),
              ...(options.httpPlugins ? { plugins: options.httpPlugins } : {}),
              adminTokens: config.http.adminTokens,
              ...(config.http.admin ? { admin: config.http.admin } : {}),
              metrics: config.http.metrics,
              statusSecret: secret,
              ...(backlog ? { backlog } : {}),
              ...(ingress ? { forwarded: { ...ingress.forward, url: ingress.url } } : {}),
              sendAs: config.http.sendAs,
              readTimeoutMs: config.http.readTimeoutMs,
              ...(options.onAudit ? { onAudit: options.onAudit } : {}),
            },
          ),
        (h) => h.stop(),
      );
    }

    return {
      url: http?.url,
      adminUrl: http?.adminUrl,
      natsUrl,
      names,
      events,
      handle: (domain, subject, handler) => handlers.register(domain, subject, handler),
      accept,
      send,
      startConversation,
      request,
      conversation: (from, correlation) => conversations.get(from, correlation),
      publish: (event) => topics.publish(identityOf(event.from), event.topic, event.body ?? {}, event.eventId),
      subscribe: async (topic, domain, handler) => {
        if (handler) {
          identityOf(domain);
          handlers.register(domain, topic, handler);
        }
        await topics.subscribe(topic, domain);
      },
      unsubscribe: (topic, domain) => topics.unsubscribe(topic, domain),
      status: statusOf,
      deadLetters: deadLetterStore,
      stats,
      inboxMetrics: async () => (ingress ? ingress.snapshot() : http?.inbox.snapshot(backlog?.backlog())),
      workflows,
      stop: () => scope.close(),
    };
  } catch (error) {
    await scope.close();
    throw error;
  }
}
