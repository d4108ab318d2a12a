import type { EventEmitter } from 'node:events';
import type { FastifyInstance } from 'fastify';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { MailroomEvents, MailroomStats } from '../core/mailroom-types.ts';
import type { EnvelopeTransition } from '../runtime/envelope-runner.ts';
import type { EnvelopeStatus } from '../runtime/status-store.ts';
import { INBOX_DURATION_BUCKETS, type InboxSnapshot } from '../core/inbox-snapshot.ts';
import { EnvelopeStates } from './envelope-states.ts';

export interface MailroomMetricsOptions {
  /** Node.js process metrics (`mailroom_process_*`, `mailroom_nodejs_*`) too (default true). */
  readonly defaultMetrics?: boolean;
  /** Handler latency buckets, in seconds. */
  readonly handlerBuckets?: readonly number[];
  /**
   * The in-flight table the `mailroom_envelopes_in_flight` gauge reads, kept by whoever passes
   * it (`startObservability` feeds one table for the metrics and the dashboard). Default: a
   * table of the metrics' own, fed by `attach`.
   */
  readonly states?: EnvelopeStates;
}

/** The Prometheus metrics of one runtime, in their own registry. */
export interface MailroomMetrics {
  readonly registry: Registry;
  /** Listens to a runtime's events; returns a function that stops listening. */
  attach(events: EventEmitter<MailroomEvents>): () => void;
  /** Where the JetStream depths come from at scrape time: the runtime's `stats()`. */
  useStats(stats: () => Promise<MailroomStats>): void;
  /** Where the inbox's counts and latencies come from at scrape time: the runtime's `inboxMetrics()` (the ingress may run on a worker thread). */
  useInbox(inbox: () => Promise<InboxSnapshot | undefined>): void;
  /** Adds `GET /metrics`. */
  readonly plugin: (app: FastifyInstance) => void;
  /** The exposition text, as `GET /metrics` answers. */
  text(): Promise<string>;
}

const DEFAULT_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** Reply subjects are chosen by the replier: one label value for all of them keeps the label set bounded. */
const subjectLabel = (subject: string) => (subject.startsWith('Reply@') ? 'Reply@*' : subject);

/**
 * Prometheus metrics for a runtime, in a registry of its own (never the global one, so two
 * runtimes in one process do not mix). Counters and the in-flight gauge come from the
 * runtime's events; the JetStream depths from `stats()` when Prometheus scrapes.
 *
 * @example
 * ```ts
 * const metrics = createMailroomMetrics();
 * const events = new EventEmitter<MailroomEvents>();
 * metrics.attach(events);
 * const mailroom = await startMailroom(config, { events, httpPlugins: [metrics.plugin] });
 * metrics.useStats(() => mailroom.stats());
 * ```
 */
export function createMailroomMetrics(options: MailroomMetricsOptions = {}): MailroomMetrics {
  const registry = new Registry();
  const registers = [registry];
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry, prefix: 'mailroom_' });

  let inbox: (() => Promise<InboxSnapshot | undefined>) | undefined;
  let pendingInbox: Promise<InboxSnapshot | undefined> | undefined;
  /** One snapshot per scrape, shared by every collect() of it (like {@link currentStats}). */
  const currentInbox = (): Promise<InboxSnapshot | undefined> => {
    if (!inbox) return Promise.resolve(undefined);
    if (!pendingInbox) {
      const call = inbox().catch(() => undefined);
      pendingInbox = call;
      void call.finally(() => {
        if (pendingInbox === call) pendingInbox = undefined;
      });
    }
    return pendingInbox;
  };
  const inboxCounter = (name: string, help: string, read: (s: InboxSnapshot) => number) =>
    new Counter({
      name,
      help,
      registers,
      async collect() {
        const s = await currentInbox();
        this.reset();
        if (s) this.inc(read(s));
      },
    });
  new Counter({
    name: 'mailroom_inbox_requests_total',
    help: 'POST /inbox answers, by HTTP status code',
    labelNames: ['code'],
    registers,
    async collect() {
      const s = await currentInbox();
      this.reset();
      for (const [code, n] of Object.entries(s?.codes ?? {})) this.inc({ code }, n);
    },
  });
  inboxCounter('mailroom_envelopes_accepted_total', 'Envelopes accepted at the HTTP inbox (202, stored in JetStream), duplicates excluded', (s) => s.accepted);
  inboxCounter('mailroom_inbox_duplicates_total', 'Envelopes posted again inside the dedupe window (202, stored once)', (s) => s.duplicates);
  inboxCounter('mailroom_inbox_shed_total', 'POST /inbox refused with 503 overloaded because the backlog reached inbox.maxPending', (s) => s.shed);
  registry.registerMetric(inboxDurationHistogram(currentInbox) as never);
  // Counted in plain maps as envelopes settle; prom-client's labelled counters are set from
  // them at scrape time (a labelled inc() hashes its labels: work per envelope nobody reads).
  const settledBy = new Map<string, number>();
  const discardedBy = new Map<string, number>();
  const deadLetteredBy = new Map<string, number>();
  const add = (map: Map<string, number>, key: string) => map.set(key, (map.get(key) ?? 0) + 1);
  const countedFrom = (name: string, help: string, label: string | undefined, read: () => ReadonlyMap<string, number> | number) =>
    new Counter({
      name,
      help,
      ...(label ? { labelNames: [label] } : {}),
      registers,
      collect() {
        const value = read();
        this.reset();
        if (typeof value === 'number') this.inc(value);
        else for (const [key, n] of value) this.inc({ [label!]: key }, n);
      },
    });
  countedFrom('mailroom_envelopes_settled_total', 'Envelope actors that reached a final state, by state', 'state', () => settledBy);
  countedFrom('mailroom_envelopes_replied_total', 'Envelopes handled and replied to (or answered with no reply)', undefined, () => settledBy.get('replied') ?? 0);
  countedFrom('mailroom_envelopes_discarded_total', 'Envelopes discarded, by reason', 'reason', () => discardedBy);
  countedFrom('mailroom_envelopes_dead_lettered_total', 'Envelopes moved to the dead-letter stream, by reason', 'reason', () => deadLetteredBy);
  countedFrom('mailroom_envelopes_retried_total', 'Envelope attempts that ended in retrying (the message is redelivered later)', undefined, () => settledBy.get('retrying') ?? 0);
  const feedbackSuppressed = new Counter({ name: 'mailroom_feedback_suppressed_total', help: 'Feedback@Buffer not sent about a discarded envelope, by reason (rate-limit: its claimed sender is over the feedback rate)', labelNames: ['reason'], registers });
  feedbackSuppressed.inc({ reason: 'rate-limit' }, 0);
  const delivered = new Counter({ name: 'mailroom_outbox_delivered_total', help: 'Envelopes the outbox delivered, to a local or a remote domain', labelNames: ['destination'], registers });
  const handlerSeconds = new Histogram({
    name: 'mailroom_handler_duration_seconds',
    help: 'Time in the handling state (the handler), by subject and the state that followed',
    labelNames: ['subject', 'outcome'],
    buckets: [...(options.handlerBuckets ?? DEFAULT_BUCKETS)],
    registers,
  });

  const ownsStates = options.states === undefined;
  const actors = options.states ?? new EnvelopeStates();
  new Gauge({
    name: 'mailroom_envelopes_in_flight',
    help: 'Envelope actors of this process in each non-final state',
    labelNames: ['state'],
    registers,
    collect() {
      this.reset();
      for (const [state, n] of actors.counts()) this.set({ state }, n);
    },
  });

  let stats: (() => Promise<MailroomStats>) | undefined;
  // One stats() call serves every gauge of a scrape: a scrape starts every collect() at once,
  // so they share the call in progress; a finished one is never reused (it would be stale).
  let pending: Promise<MailroomStats | undefined> | undefined;
  const currentStats = (): Promise<MailroomStats | undefined> => {
    if (!stats) return Promise.resolve(undefined);
    if (!pending) {
      const call = stats().catch(() => undefined);
      pending = call;
      void call.finally(() => {
        if (pending === call) pending = undefined;
      });
    }
    return pending;
  };
  const queueGauge = (name: string, help: string, read: (q: MailroomStats['inbox']) => number) =>
    new Gauge({
      name,
      help,
      labelNames: ['queue'],
      registers,
      async collect() {
        const s = await currentStats();
        this.reset();
        if (!s) return;
        this.set({ queue: 'inbox' }, read(s.inbox));
        this.set({ queue: 'outbox' }, read(s.outbox));
      },
    });
  new Gauge({
    name: 'mailroom_inbox_backlog',
    help: 'Inbox messages not yet processed (waiting plus being worked on), from JetStream: where the backlog lives when processing cannot keep up',
    registers,
    async collect() {
      const s = await currentStats();
      this.reset();
      if (s) this.set(s.inbox.waiting + s.inbox.inFlight);
    },
  });
  queueGauge('mailroom_jetstream_consumer_pending', 'Messages waiting for the durable consumer (consumer lag), from JetStream', (q) => q.waiting);
  queueGauge('mailroom_jetstream_consumer_ack_pending', 'Messages delivered and not yet acknowledged (being worked on by any process)', (q) => q.inFlight);
  queueGauge('mailroom_jetstream_consumer_redelivered', 'Messages delivered more than once and not yet acknowledged', (q) => q.redelivered);
  new Gauge({
    name: 'mailroom_dead_letters',
    help: 'Messages in the dead-letter stream',
    registers,
    async collect() {
      const s = await currentStats();
      if (s) this.set(s.deadLetters);
    },
  });
  new Gauge({
    name: 'mailroom_crypto_workers',
    help: "Worker threads of this process's crypto pool (0: signatures on the event loop)",
    registers,
    async collect() {
      const s = await currentStats();
      if (s) this.set(s.crypto.workers);
    },
  });
  new Gauge({
    name: 'mailroom_crypto_queued',
    help: 'Signature operations waiting for a crypto worker in this process',
    registers,
    async collect() {
      const s = await currentStats();
      if (s) this.set(s.crypto.queued);
    },
  });
  new Gauge({
    name: 'mailroom_stats_up',
    help: '1 when JetStream answered the stats query of this scrape, else 0',
    registers,
    async collect() {
      this.set((await currentStats()) ? 1 : 0);
    },
  });

  const onTransition = (t: EnvelopeTransition) => {
    const left = ownsStates ? actors.apply(t).left : undefined;
    if (t.previous !== 'handling') return;
    // `since`: when the actor entered `handling` (set by the runtime); else what the table knew.
    const since = t.since ?? left?.enteredAt;
    if (since !== undefined) handlerSeconds.observe({ subject: subjectLabel(t.subject), outcome: t.state }, Math.max(0, t.at - since) / 1000);
  };
  const onSettled = (status: EnvelopeStatus) => {
    if (ownsStates) actors.settled(status);
    add(settledBy, status.state);
    if (status.state === 'deadLettered') add(deadLetteredBy, status.deadLetter?.reason ?? 'unknown');
    if (status.discard) add(discardedBy, status.discard.reason);
  };
  const onDelivered = (info: { local: boolean }) => delivered.inc({ destination: info.local ? 'local' : 'remote' });
  const onFeedbackSuppressed = (info: { reason: string }) => feedbackSuppressed.inc({ reason: info.reason });

  return {
    registry,
    attach(events) {
      events.on('transition', onTransition);
      events.on('settled', onSettled);
      events.on('delivered', onDelivered);
      events.on('feedbackSuppressed', onFeedbackSuppressed);
      return () => {
        events.off('feedbackSuppressed', onFeedbackSuppressed);
        events.off('transition', onTransition);
        events.off('settled', onSettled);
        events.off('delivered', onDelivered);
      };
    },
    useStats(fn) {
      stats = fn;
      pending = undefined;
    },
    useInbox(fn) {
      inbox = fn;
      pendingInbox = undefined;
    },
    plugin(app) {
      app.get('/metrics', async (_request, reply) => reply.type(registry.contentType).send(await registry.metrics()));
    },
    text: () => registry.metrics(),
  };
}

/**
 * `mailroom_inbox_request_duration_seconds`: a histogram whose counts live where the inbox runs
 * (possibly the ingress worker thread), read from its snapshot at scrape time. A registry
 * metric of its own (prom-client's Histogram only counts observations made in this thread).
 */
function inboxDurationHistogram(current: () => Promise<InboxSnapshot | undefined>) {
  const name = 'mailroom_inbox_request_duration_seconds';
  return {
    name,
    help: 'POST /inbox, from the request to the answer sent (202 only after JetStream stored the envelope)',
    type: 'histogram',
    aggregator: 'sum',
    collect: () => undefined,
    reset: () => undefined,
    async get() {
      const s = await current();
      const buckets = s && s.buckets.length === INBOX_DURATION_BUCKETS.length ? s.buckets : INBOX_DURATION_BUCKETS.map(() => 0);
      const count = s?.count ?? 0;
      return {
        name,
        help: this.help,
        type: 'histogram',
        aggregator: 'sum',
        values: [
          ...INBOX_DURATION_BUCKETS.map((le, i) => ({ metricName: `${name}_bucket`, labels: { le }, value: buckets[i]! })),
          { metricName: `${name}_bucket`, labels: { le: '+Inf' }, value: count },
          { metricName: `${name}_sum`, labels: {}, value: s?.sum ?? 0 },
          { metricName: `${name}_count`, labels: {}, value: count },
        ],
      };
    },
  };
}
