/**
 * Creates or updates the streams, durable consumers and KV buckets one Mailroom
 * runtime needs. Idempotent and safe to run from several processes at once: each
 * resource is read back, created if missing, and updated where it differs.
 */
import type { NatsConnection } from '@nats-io/transport-node';
import { AckPolicy, DeliverPolicy, JetStreamApiCodes, ReplayPolicy, RetentionPolicy, StorageType, jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager, type StreamConfig } from '@nats-io/jetstream';
import type { KV } from '@nats-io/kv';
import { nanos } from '@nats-io/transport-node';
import { ConfigError, TransportError } from '../errors.ts';
import type { Names } from './names.ts';
import { consumerInfo, ensureBucket, ensureConsumer, ensureStream, isApiError, message, placementOf, type ProvisionDrift, type ProvisionPlacement } from './ensure-resource.ts';

export { ProvisionDrift, type ProvisionPlacement } from './ensure-resource.ts';

/** Settings of the inbox stream and its consumer. */
export interface InboxProvisionOptions {
  /** Deliveries of one envelope before JetStream stops redelivering it (`max_deliver`). */
  readonly maxDeliver: number;
  /** How long a delivery may stay unacked before it is redelivered (`ack_wait`). */
  readonly ackWaitMs: number;
  /** JetStream dedupe window for `Nats-Msg-Id` (`duplicate_window`); also used by the outbox and DLQ. */
  readonly duplicateWindowMs: number;
  /** Age after which messages leave the stream (`max_age`); absent or 0 keeps them. */
  readonly maxAgeMs?: number;
  /** Unacked deliveries in flight across all processes (`max_ack_pending`, default 1024). */
  readonly maxAckPending?: number;
}

/** Options of {@link provision}. */
export interface ProvisionOptions {
  readonly inbox: InboxProvisionOptions;
  /** The outbox consumer; each field defaults to the inbox's. */
  readonly outbox?: Partial<Pick<InboxProvisionOptions, 'maxDeliver' | 'ackWaitMs' | 'maxAckPending'>>;
  /** How long a correlation counts as seen: the TTL of the replay bucket. */
  readonly replayWindowMs: number;
  /** Ordered processing: this many partitions, each a consumer with one message in flight. */
  readonly ordered?: { readonly partitions: number };
  /** TTL of the status bucket (`max_age`, updated on an existing bucket); absent or 0 keeps statuses. */
  readonly statusTtlMs?: number;
  /**
   * The domains this process hosts: one inbox consumer per domain (filtered on its subjects)
   * instead of the shared one, so processes hosting different domains share a prefix safely.
   * Absent: the shared inbox consumer. See {@link retireSharedInboxConsumer} for the upgrade.
   */
  readonly inboxDomains?: readonly string[];
  /** Stream and bucket replicas (default 1; 3 or 5 on a JetStream cluster). Raised on existing ones, never lowered unless `force`. */
  readonly replicas?: number;
  /** Where new streams and buckets are placed: a cluster by name, and server tags. Never changed on existing ones unless `force`. */
  readonly placement?: ProvisionPlacement;
  /**
   * Also lower replicas and change placement that differ from these options (an operator's
   * choice, kept by default and reported as {@link ProvisionDrift}). Default false.
   */
  readonly force?: boolean;
  /** Called once per setting left as the operator made it; the same values are in {@link Provisioned.drift}. */
  readonly onDrift?: (drift: ProvisionDrift) => void;
}

/**
 * The replica and drift settings of {@link provision} from a config's `nats` section
 * (`replicas`, `placement`, `forceProvision`), with where drift warnings go.
 */
export function provisionPolicy(
  nats: { readonly replicas: number; readonly placement?: ProvisionPlacement | undefined; readonly forceProvision: boolean },
  onDrift: (drift: ProvisionDrift) => void,
): Pick<ProvisionOptions, 'replicas' | 'placement' | 'force' | 'onDrift'> {
  return { replicas: nats.replicas, ...(nats.placement ? { placement: nats.placement } : {}), force: nats.forceProvision, onDrift };
}

/** What {@link provision} hands back. */
export interface Provisioned {
  readonly js: JetStreamClient;
  readonly jsm: JetStreamManager;
  /** Envelope status per `<from>.<correlation>` (history 1). */
  readonly status: KV;
  /** Correlations seen inside the replay window (`create()` fails on a second sighting). */
  readonly replay: KV;
  /** Outbound envelopes by deterministic message ID, with their signed bytes (TTL = the replay window). */
  readonly outbound: KV;
  /** Passivated conversation snapshots per `<from>.<correlation>` (history 1). */
  readonly conversations: KV;
  /** Topic subscriptions per `<topic>.<domain>`. */
  readonly subscriptions: KV;
  /** Durable workflows: one record per workflow (`w.<id>`), and correlation links (`c.<correlation>`). */
  readonly workflows: KV;
  /** Settings left as an operator made them (see {@link ProvisionOptions.force}). */
  readonly drift: readonly ProvisionDrift[];
}

function validate(options: ProvisionOptions): void {
  const issues: { path: string; message: string }[] = [];
  const check = (path: string, ok: boolean, message: string) => ok || issues.push({ path, message });
  const { inbox } = options;
  const int = Number.isInteger;
  check('inbox.maxDeliver', int(inbox.maxDeliver) && (inbox.maxDeliver >= 1 || inbox.maxDeliver === -1), 'an integer >= 1, or -1 for unlimited');
  check('inbox.ackWaitMs', int(inbox.ackWaitMs) && inbox.ackWaitMs >= 1, 'a positive integer');
  check('inbox.duplicateWindowMs', int(inbox.duplicateWindowMs) && inbox.duplicateWindowMs >= 1, 'a positive integer');
  const maxAge = inbox.maxAgeMs ?? 0;
  check('inbox.maxAgeMs', int(maxAge) && maxAge >= 0, 'a non-negative integer');
  check('inbox.duplicateWindowMs', maxAge === 0 || inbox.duplicateWindowMs <= maxAge, 'must not exceed inbox.maxAgeMs');
  for (const [path, v] of [['inbox.maxAckPending', inbox.maxAckPending], ['outbox.maxAckPending', options.outbox?.maxAckPending]] as const) {
    check(path, v === undefined || (int(v) && (v >= 1 || v === -1)), 'an integer >= 1, or -1 for unlimited');
  }
  const ob = options.outbox;
  check('outbox.maxDeliver', ob?.maxDeliver === undefined || (int(ob.maxDeliver) && (ob.maxDeliver >= 1 || ob.maxDeliver === -1)), 'an integer >= 1, or -1');
  check('outbox.ackWaitMs', ob?.ackWaitMs === undefined || (int(ob.ackWaitMs) && ob.ackWaitMs >= 1), 'a positive integer');
  check('replayWindowMs', int(options.replayWindowMs) && options.replayWindowMs >= 1, 'a positive integer');
  check('statusTtlMs', options.statusTtlMs === undefined || (int(options.statusTtlMs) && options.statusTtlMs >= 0), 'a non-negative integer');
  check('replicas', options.replicas === undefined || [1, 3, 5].includes(options.replicas), '1, 3 or 5');
  const tags = options.placement?.tags;
  check('placement.tags', tags === undefined || (Array.isArray(tags) && tags.every((t) => typeof t === 'string' && t !== '')), 'a list of non-empty strings');
  if (issues.length > 0) throw new ConfigError('invalid provisioning options', issues);
}

/**
 * Creates or updates (idempotently) the five streams (inbox, outbox, DLQ, timers, tasks; a
 * sixth, the ordered inbox, when `ordered.partitions` > 0), their durable pull consumers
 * (inbox, outbox, timers, tasks, and one per ordered partition) and the six KV buckets
 * (status, replay, outbound, conversations, subscriptions, workflows).
 * A setting the server cannot change in place is a `TransportError` that says what
 * to do; invalid options are a `ConfigError`.
 *
 * Replicas are raised to `replicas` on existing streams and buckets (nats-server 2.9 scales a
 * stream in place), never lowered: a stream an operator made R3 stays R3 under a runtime
 * configured for 1, and so does another placement. Each is reported as a {@link ProvisionDrift}
 * (`onDrift`, and `drift` in the result) unless `force` is set, which changes them too.
 *
 * @example
 * ```ts
 * const { js, status, replay } = await provision(nc, createNames(), {
 *   inbox: { maxDeliver: 5, ackWaitMs: 30_000, duplicateWindowMs: 120_000 },
 *   replayWindowMs: 600_000,
 * });
 * ```
 */
export async function provision(nc: NatsConnection, names: Names, options: ProvisionOptions): Promise<Provisioned> {
  validate(options);
  const version = nc.info?.version ?? 'unknown';
  let jsm: JetStreamManager;
  try {
    jsm = await jetstreamManager(nc);
  } catch (e) {
    throw new TransportError(`JetStream is not available on nats-server ${version}: ${message(e)}`, { cause: e });
  }
  const js = jetstream(nc);
  const { inbox } = options;
  const replicas = options.replicas ?? 1;
  const dup = nanos(inbox.duplicateWindowMs);
  const drift: ProvisionDrift[] = [];
  const ctx = {
    version,
    force: options.force ?? false,
    drift: (d: ProvisionDrift) => {
      drift.push(d);
      options.onDrift?.(d);
    },
    ...(options.placement ? { placement: options.placement } : {}),
  };

  const streamMutable = ['subjects', 'description', 'duplicate_window', 'max_age', 'num_replicas', 'placement'] as const;
  // Inbox and outbox are work queues: a message leaves the stream when it is acked, so they
  // do not grow without bound. Dead letters stay until purged (limits).
  const stream = (name: string, subject: string, description: string, maxAgeMs = 0, retention: RetentionPolicy = RetentionPolicy.Workqueue): Partial<StreamConfig> & { name: string } => ({
    name,
    subjects: [subject],
    description,
    retention,
    storage: StorageType.File,
    duplicate_window: maxAgeMs > 0 ? Math.min(dup, nanos(maxAgeMs)) : dup,
    max_age: nanos(maxAgeMs),
    num_replicas: replicas,
    ...(options.placement ? { placement: placementOf(options.placement) } : {}),
  });
  await ensureStream(jsm, stream(names.streams.inbox, names.streamSubjects.inbox, 'Mailroom: envelopes accepted at ingress', inbox.maxAgeMs), streamMutable, ctx);
  await ensureStream(jsm, stream(names.streams.outbox, names.streamSubjects.outbox, 'Mailroom: envelopes to deliver'), streamMutable, ctx);
  await ensureStream(jsm, stream(names.streams.dlq, names.streamSubjects.dlq, 'Mailroom: dead letters', 0, RetentionPolicy.Limits), streamMutable, ctx);
  await ensureStream(jsm, stream(names.streams.timers, names.streamSubjects.timers, 'Mailroom: durable timers (naked with a delay until due)'), streamMutable, ctx);
  await ensureStream(jsm, stream(names.streams.tasks, names.streamSubjects.tasks, "Mailroom: durable tasks (workflows' activities)"), streamMutable, ctx);

  const consumer = (durable: string, o: { maxDeliver: number; ackWaitMs: number; maxAckPending: number }, description: string) => ({
    durable_name: durable,
    description,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    replay_policy: ReplayPolicy.Instant,
    max_deliver: o.maxDeliver,
    ack_wait: nanos(o.ackWaitMs),
    max_ack_pending: o.maxAckPending,
    // A pull consumer on the whole stream: compared with an existing one, never sent.
    deliver_subject: undefined,
    filter_subject: undefined,
  });
  const inboxC = { maxDeliver: inbox.maxDeliver, ackWaitMs: inbox.ackWaitMs, maxAckPending: inbox.maxAckPending ?? 1024 };
  const outboxC = { ...inboxC, ...stripUndefined(options.outbox ?? {}) };
  if (options.inboxDomains) {
    // A work-queue stream refuses overlapping consumers: the shared one goes first.
    if (options.inboxDomains.length > 0) await retireSharedInboxConsumer(jsm, names);
    for (const domain of options.inboxDomains) {
      const want = { ...consumer(names.inboxDomainConsumer(domain), inboxC, `Mailroom: envelope actors of ${domain}`), filter_subject: names.inboxDomainFilter(domain) };
      await ensureConsumer(jsm, names.streams.inbox, want, ctx);
    }
  } else await ensureConsumer(jsm, names.streams.inbox, consumer(names.consumers.inbox, inboxC, 'Mailroom: envelope actors'), ctx);
  await ensureConsumer(jsm, names.streams.outbox, consumer(names.consumers.outbox, outboxC, 'Mailroom: outbox worker'), ctx);
  if (options.ordered && options.ordered.partitions > 0) {
    await ensureStream(jsm, stream(names.ordered.stream, names.ordered.streamSubject, 'Mailroom: envelopes handled in order per key'), streamMutable, ctx);
    for (let p = 0; p < options.ordered.partitions; p++) {
      // One message in flight per partition, across every process: that is the order. A nak
      // with a delay keeps the slot, so a retry holds back what comes after it.
      await ensureConsumer(jsm, names.ordered.stream, { ...consumer(names.ordered.consumer(p), { ...inboxC, maxAckPending: 1 }, `Mailroom: ordered partition ${p}`), filter_subject: names.ordered.filter(p) }, ctx);
    }
  }
  // A timer is redelivered (naked with a delay) as often as it takes to come due: no max_deliver;
  // no max_ack_pending either, so 100k waiting timers never hold back one that is due. A short
  // ack wait: firing is quick, and a timer in transit to a stopping process comes back soon.
  await ensureConsumer(jsm, names.streams.timers, consumer(names.consumers.timers, { maxDeliver: -1, ackWaitMs: 5_000, maxAckPending: -1 }, 'Mailroom: timer worker'), ctx);
  // Tasks work like timers (a retry is a nak with its backoff); a task that runs long keeps its
  // message with a heartbeat every 2 s, and one in a process that died comes back after 5 s.
  await ensureConsumer(jsm, names.streams.tasks, consumer(names.consumers.tasks, { maxDeliver: -1, ackWaitMs: 5_000, maxAckPending: -1 }, 'Mailroom: task worker'), ctx);

  const status = await ensureBucket(js, jsm, names.buckets.status, { history: 1, ttlMs: options.statusTtlMs ?? 0, replicas, description: 'Mailroom: envelope status' }, ctx);
  const replay = await ensureBucket(js, jsm, names.buckets.replay, { history: 1, ttlMs: options.replayWindowMs, replicas, description: 'Mailroom: correlations seen in the replay window' }, ctx);
  const outbound = await ensureBucket(js, jsm, names.buckets.outbound, { history: 1, ttlMs: options.replayWindowMs, replicas, description: 'Mailroom: signed outbound envelopes by message ID (one signature each)' }, ctx);
  // Never the status TTL: a passivated conversation waits as long as its own timeout says.
  const conversations = await ensureBucket(js, jsm, names.buckets.conversations, { history: 1, ttlMs: 0, replicas, description: 'Mailroom: passivated conversations' }, ctx);
  const subscriptions = await ensureBucket(js, jsm, names.buckets.subscriptions, { history: 1, ttlMs: 0, replicas, description: 'Mailroom: topic subscriptions' }, ctx);
  const workflows = await ensureBucket(js, jsm, names.buckets.workflows, { history: 1, ttlMs: 0, replicas, description: 'Mailroom: durable workflows' }, ctx);
  return { js, jsm, status, replay, outbound, conversations, subscriptions, workflows, drift };
}

/**
 * The upgrade from the shared inbox consumer (`<prefix>-inbox`, every domain) to one per
 * domain. A work-queue stream keeps a message until it is acked, so deleting the consumer
 * loses nothing: what it had delivered and not acked goes to the per-domain consumers. It is
 * deleted only when idle (nothing unacked, no pull waiting): a process of an older Mailroom
 * still pulling from it is a `TransportError` (stop those first), never a silent takeover.
 * Returns whether it was deleted.
 */
export async function retireSharedInboxConsumer(jsm: JetStreamManager, names: Names): Promise<boolean> {
  const shared = await consumerInfo(jsm, names.streams.inbox, names.consumers.inbox);
  if (!shared) return false;
  if (shared.num_ack_pending > 0 || shared.num_waiting > 0) {
    throw new TransportError(
      `the shared inbox consumer ${names.streams.inbox}/${names.consumers.inbox} is in use (${shared.num_ack_pending} unacked, ${shared.num_waiting} pulls waiting): ` +
        `stop the processes of the older Mailroom that pull from it, then start this one again once their pulls have expired (at most 30 s; per-domain consumers replace it).`,
    );
  }
  try {
    await jsm.consumers.delete(names.streams.inbox, names.consumers.inbox);
  } catch (e) {
    if (!isApiError(e, JetStreamApiCodes.ConsumerNotFound)) throw new TransportError(`cannot delete the shared inbox consumer: ${message(e)}`, { cause: e });
  }
  return true;
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
