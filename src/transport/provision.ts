/**
 * Creates or updates the streams, durable consumers and KV buckets one Mailroom
 * runtime needs. Idempotent and safe to run from several processes at once: each
 * resource is read back, created if missing, and updated where it differs.
 */
import type { NatsConnection } from '@nats-io/transport-node';
import {
  AckPolicy,
  DeliverPolicy,
  JetStreamApiCodes,
  JetStreamApiError,
  ReplayPolicy,
  RetentionPolicy,
  StorageType,
  jetstream,
  jetstreamManager,
  type ConsumerConfig,
  type ConsumerInfo,
  type JetStreamClient,
  type JetStreamManager,
  type StreamConfig,
  type StreamInfo,
} from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import { nanos } from '@nats-io/transport-node';
import { ConfigError, TransportError } from '../errors.ts';
import { kvStreamName, type Names } from './names.ts';
import { JS_API_CODES } from './jetstream-errors.ts';

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
  /** Stream and bucket replicas (default 1; 3 on a JetStream cluster). */
  readonly replicas?: number;
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
}

const STREAM_NAME_IN_USE = JS_API_CODES.streamNameInUse;

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
  if (issues.length > 0) throw new ConfigError('invalid provisioning options', issues);
}

const isApiError = (e: unknown, code?: number): e is JetStreamApiError =>
  e instanceof JetStreamApiError && (code === undefined || e.code === code);
const message = (e: unknown) => (e instanceof Error ? e.message : String(e));

function show(field: string, value: unknown): string {
  if (typeof value === 'number' && /window|age|wait|ttl/.test(field)) return `${value / 1e6}ms`;
  return JSON.stringify(value ?? null);
}

type Diff = { field: string; have: unknown; want: unknown };

/** The fields (of those named, and present in `want`) whose values differ. `undefined`, `null` and `''` are alike. */
function diff<T extends object>(have: T, want: Partial<T>, fields: readonly (keyof T & string)[]): Diff[] {
  const norm = (v: unknown) => (Array.isArray(v) ? JSON.stringify([...v].sort()) : JSON.stringify(v === '' ? null : (v ?? null)));
  return fields
    .filter((f) => f in want && norm(have[f]) !== norm(want[f]))
    .map((f) => ({ field: f, have: have[f], want: want[f] }));
}
const describe = (diffs: readonly Diff[]) => diffs.map((d) => `${d.field} ${show(d.field, d.have)} → ${show(d.field, d.want)}`).join(', ');

/** Reads a stream's info, `undefined` when it does not exist. */
async function streamInfo(jsm: JetStreamManager, name: string): Promise<StreamInfo | undefined> {
  try {
    return await jsm.streams.info(name);
  } catch (e) {
    if (isApiError(e, JetStreamApiCodes.StreamNotFound)) return undefined;
    throw new TransportError(`cannot read stream ${name}: ${message(e)}`, { cause: e });
  }
}

/** Fields no nats-server can change on an existing stream (2.9 cannot change retention either). */
const STREAM_FIXED = ['storage', 'retention'] as const;

async function ensureStream(jsm: JetStreamManager, want: Partial<StreamConfig> & { name: string }, mutable: readonly (keyof StreamConfig & string)[], version: string): Promise<StreamInfo> {
  const current = await streamInfo(jsm, want.name);
  if (!current) {
    try {
      return await jsm.streams.add(want);
    } catch (e) {
      // Another process created it between our read and our create: reconcile with theirs.
      if (isApiError(e, STREAM_NAME_IN_USE) && (await streamInfo(jsm, want.name))) return ensureStream(jsm, want, mutable, version);
      throw new TransportError(`cannot create stream ${want.name}: ${message(e)}`, { cause: e });
    }
  }
  const fixed = diff(current.config, want, STREAM_FIXED);
  if (fixed.length > 0) {
    throw new TransportError(
      `stream ${want.name} exists with settings nats-server ${version} cannot change (${describe(fixed)}). ` +
        `Move its data away and delete it (nats stream rm ${want.name}), or use another prefix.`,
    );
  }
  const changed = diff(current.config, want, mutable);
  if (changed.length === 0) return current;
  const update = Object.fromEntries(changed.map((d) => [d.field, d.want]));
  try {
    return await jsm.streams.update(want.name, update);
  } catch (e) {
    throw new TransportError(`nats-server ${version} refused to update stream ${want.name} (${describe(changed)}): ${message(e)}`, { cause: e });
  }
}

async function consumerInfo(jsm: JetStreamManager, stream: string, name: string): Promise<ConsumerInfo | undefined> {
  try {
    return await jsm.consumers.info(stream, name);
  } catch (e) {
    if (isApiError(e, JetStreamApiCodes.ConsumerNotFound)) return undefined;
    throw new TransportError(`cannot read consumer ${stream}/${name}: ${message(e)}`, { cause: e });
  }
}

/** Fields that make a consumer a different consumer; 2.9 changes none of them in place. */
const CONSUMER_FIXED = ['ack_policy', 'deliver_policy', 'replay_policy', 'deliver_subject', 'filter_subject'] as const;
const CONSUMER_MUTABLE = ['description', 'max_deliver', 'ack_wait', 'max_ack_pending'] as const;

async function ensureConsumer(jsm: JetStreamManager, stream: string, want: Partial<ConsumerConfig> & { durable_name: string }, version: string, retry = true): Promise<ConsumerInfo> {
  const name = want.durable_name;
  const current = await consumerInfo(jsm, stream, name);
  if (!current) {
    try {
      return await jsm.consumers.add(stream, want);
    } catch (e) {
      if (retry && isApiError(e) && (await consumerInfo(jsm, stream, name))) return ensureConsumer(jsm, stream, want, version, false);
      throw new TransportError(`cannot create consumer ${stream}/${name}: ${message(e)}`, { cause: e });
    }
  }
  const fixed = diff(current.config, want, CONSUMER_FIXED);
  if (fixed.length > 0) {
    throw new TransportError(
      `consumer ${stream}/${name} exists with settings nats-server ${version} cannot change (${describe(fixed)}). ` +
        `Delete it (nats consumer rm ${stream} ${name}); its unacked messages are redelivered to the new one.`,
    );
  }
  const changed = diff(current.config, want, CONSUMER_MUTABLE);
  if (changed.length === 0) return current;
  try {
    return await jsm.consumers.update(stream, name, Object.fromEntries(changed.map((d) => [d.field, d.want])));
  } catch (e) {
    throw new TransportError(`nats-server ${version} refused to update consumer ${stream}/${name} (${describe(changed)}): ${message(e)}`, { cause: e });
  }
}

async function ensureBucket(
  js: JetStreamClient,
  jsm: JetStreamManager,
  bucket: string,
  want: { history: number; ttlMs: number; replicas: number; description: string },
  version: string,
  retry = true,
): Promise<KV> {
  const kvm = new Kvm(js);
  const stream = kvStreamName(bucket);
  const current = await streamInfo(jsm, stream);
  try {
    if (!current) {
      try {
        return await kvm.create(bucket, { history: want.history, ttl: want.ttlMs, replicas: want.replicas, storage: StorageType.File, description: want.description });
      } catch (e) {
        // Another process created it first (with its own settings): reconcile with what it made.
        if (retry && (await streamInfo(jsm, stream))) return await ensureBucket(js, jsm, bucket, want, version, false);
        throw e;
      }
    }
    const maxAge = nanos(want.ttlMs);
    const wanted: Partial<StreamConfig> & { name: string } = {
      name: stream,
      storage: StorageType.File,
      max_msgs_per_subject: want.history,
      max_age: maxAge,
      num_replicas: want.replicas,
      description: want.description,
    };
    // The dedupe window may not exceed max_age: shrink it with the TTL.
    const dup = current.config.duplicate_window;
    if (maxAge > 0 && dup > maxAge) wanted.duplicate_window = maxAge;
    await ensureStream(jsm, wanted, ['max_msgs_per_subject', 'max_age', 'num_replicas', 'description', 'duplicate_window'], version);
    return await kvm.open(bucket);
  } catch (e) {
    if (e instanceof TransportError) throw e;
    throw new TransportError(`cannot create or open KV bucket ${bucket}: ${message(e)}`, { cause: e });
  }
}

/**
 * Creates or updates (idempotently) the five streams (inbox, outbox, DLQ, timers, tasks; a
 * sixth, the ordered inbox, when `ordered.partitions` > 0), their durable pull consumers
 * (inbox, outbox, timers, tasks, and one per ordered partition) and the six KV buckets
 * (status, replay, outbound, conversations, subscriptions, workflows).
 * A setting the server cannot change in place is a `TransportError` that says what
 * to do; invalid options are a `ConfigError`.
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

  const streamMutable = ['subjects', 'description', 'duplicate_window', 'max_age', 'num_replicas'] as const;
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
  });
  await ensureStream(jsm, stream(names.streams.inbox, names.streamSubjects.inbox, 'Mailroom: envelopes accepted at ingress', inbox.maxAgeMs), streamMutable, version);
  await ensureStream(jsm, stream(names.streams.outbox, names.streamSubjects.outbox, 'Mailroom: envelopes to deliver'), streamMutable, version);
  await ensureStream(jsm, stream(names.streams.dlq, names.streamSubjects.dlq, 'Mailroom: dead letters', 0, RetentionPolicy.Limits), streamMutable, version);
  await ensureStream(jsm, stream(names.streams.timers, names.streamSubjects.timers, 'Mailroom: durable timers (naked with a delay until due)'), streamMutable, version);
  await ensureStream(jsm, stream(names.streams.tasks, names.streamSubjects.tasks, "Mailroom: durable tasks (workflows' activities)"), streamMutable, version);

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
      await ensureConsumer(jsm, names.streams.inbox, want, version);
    }
  } else await ensureConsumer(jsm, names.streams.inbox, consumer(names.consumers.inbox, inboxC, 'Mailroom: envelope actors'), version);
  await ensureConsumer(jsm, names.streams.outbox, consumer(names.consumers.outbox, outboxC, 'Mailroom: outbox worker'), version);
  if (options.ordered && options.ordered.partitions > 0) {
    await ensureStream(jsm, stream(names.ordered.stream, names.ordered.streamSubject, 'Mailroom: envelopes handled in order per key'), streamMutable, version);
    for (let p = 0; p < options.ordered.partitions; p++) {
      // One message in flight per partition, across every process: that is the order. A nak
      // with a delay keeps the slot, so a retry holds back what comes after it.
      await ensureConsumer(jsm, names.ordered.stream, { ...consumer(names.ordered.consumer(p), { ...inboxC, maxAckPending: 1 }, `Mailroom: ordered partition ${p}`), filter_subject: names.ordered.filter(p) }, version);
    }
  }
  // A timer is redelivered (naked with a delay) as often as it takes to come due: no max_deliver;
  // no max_ack_pending either, so 100k waiting timers never hold back one that is due. A short
  // ack wait: firing is quick, and a timer in transit to a stopping process comes back soon.
  await ensureConsumer(jsm, names.streams.timers, consumer(names.consumers.timers, { maxDeliver: -1, ackWaitMs: 5_000, maxAckPending: -1 }, 'Mailroom: timer worker'), version);
  // Tasks work like timers (a retry is a nak with its backoff); a task that runs long keeps its
  // message with a heartbeat every 2 s, and one in a process that died comes back after 5 s.
  await ensureConsumer(jsm, names.streams.tasks, consumer(names.consumers.tasks, { maxDeliver: -1, ackWaitMs: 5_000, maxAckPending: -1 }, 'Mailroom: task worker'), version);

  const status = await ensureBucket(js, jsm, names.buckets.status, { history: 1, ttlMs: options.statusTtlMs ?? 0, replicas, description: 'Mailroom: envelope status' }, version);
  const replay = await ensureBucket(js, jsm, names.buckets.replay, { history: 1, ttlMs: options.replayWindowMs, replicas, description: 'Mailroom: correlations seen in the replay window' }, version);
  const outbound = await ensureBucket(js, jsm, names.buckets.outbound, { history: 1, ttlMs: options.replayWindowMs, replicas, description: 'Mailroom: signed outbound envelopes by message ID (one signature each)' }, version);
  // Never the status TTL: a passivated conversation waits as long as its own timeout says.
  const conversations = await ensureBucket(js, jsm, names.buckets.conversations, { history: 1, ttlMs: 0, replicas, description: 'Mailroom: passivated conversations' }, version);
  const subscriptions = await ensureBucket(js, jsm, names.buckets.subscriptions, { history: 1, ttlMs: 0, replicas, description: 'Mailroom: topic subscriptions' }, version);
  const workflows = await ensureBucket(js, jsm, names.buckets.workflows, { history: 1, ttlMs: 0, replicas, description: 'Mailroom: durable workflows' }, version);
  return { js, jsm, status, replay, outbound, conversations, subscriptions, workflows };
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
