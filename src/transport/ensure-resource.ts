/**
 * Reconciles one JetStream resource (stream, durable consumer, KV bucket) with what is wanted:
 * created if missing, updated where it differs and the server can change it, a clear error
 * where it cannot, and an operator's choices (more replicas, another placement) left as they
 * are and reported as {@link ProvisionDrift} unless forced. Used by `provision()` (`provision.ts`). @internal
 */
import {
  JetStreamApiCodes,
  JetStreamApiError,
  RetentionPolicy,
  StorageType,
  type ConsumerConfig,
  type ConsumerInfo,
  type JetStreamClient,
  type JetStreamManager,
  type Placement,
  type StreamConfig,
  type StreamInfo,
} from '@nats-io/jetstream';
import { Kvm, type Bucket, type KV } from '@nats-io/kv';
import { nanos, TimeoutError } from '@nats-io/transport-node';
import { TransportError } from '../errors.ts';
import { kvStreamName } from './names.ts';
import { leaderWhenDirectUnanswered, readsDirect } from './kv-entries.ts';
import { JS_API_CODES } from './jetstream-errors.ts';
import { isAtLeast, needsConsumerRenewalAfterRescale, parseVersion, WORKQUEUE_RESCALE_FIXED_IN } from './server-info.ts';

/** A placement for streams and buckets (`placement` of the stream config). */
export interface ProvisionPlacement {
  readonly cluster?: string;
  readonly tags?: readonly string[];
}

/**
 * A setting an existing stream (or bucket) has on purpose and `provision()` left as it is:
 * more replicas than configured, or another placement. A warning, not a failure;
 * `force: true` (`mailroom start --force-provision`) changes it.
 */
export class ProvisionDrift extends Error {
  override readonly name = 'ProvisionDrift';
  constructor(
    /** The stream (a bucket's is `KV_<bucket>`). */
    readonly stream: string,
    readonly field: 'num_replicas' | 'placement',
    readonly have: unknown,
    readonly want: unknown,
  ) {
    super(`stream ${stream} keeps ${field} ${JSON.stringify(have)} (configured: ${JSON.stringify(want ?? null)}); left as the operator set it, --force-provision changes it`);
  }
}

const STREAM_NAME_IN_USE = JS_API_CODES.streamNameInUse;

export const isApiError = (e: unknown, code?: number): e is JetStreamApiError =>
  e instanceof JetStreamApiError && (code === undefined || e.code === code);
export const message = (e: unknown) => (e instanceof Error ? e.message : String(e));

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

/** How long a read waits out a leader election (after a replica change, or a node lost). */
const ELECTION_WAIT_MS = 30_000;

/**
 * Runs `read` again while JetStream has no leader to answer it: a timeout, or 503 "temporarily
 * unavailable". A stream whose replicas just changed elects new stream and consumer leaders.
 */
async function throughElections<T>(read: () => Promise<T>, alsoTransient: (e: unknown) => boolean = () => false): Promise<T> {
  const deadline = Date.now() + ELECTION_WAIT_MS;
  for (let wait = 100; ; wait = Math.min(wait * 2, 1_000)) {
    try {
      return await read();
    } catch (e) {
      const leaderless = e instanceof TimeoutError || (isApiError(e) && e.status === 503) || alsoTransient(e);
      if (!leaderless || Date.now() + wait > deadline) throw e;
      await new Promise((resolve) => setTimeout(resolve, wait));
    }
  }
}

/**
 * Waits (up to {@link ELECTION_WAIT_MS}) until a stream whose replicas just changed has a
 * leader and every replica is current, so what comes next (its consumers, the first publish)
 * does not meet an election. Gives back the latest info either way.
 */
async function settled(jsm: JetStreamManager, name: string, info: StreamInfo): Promise<StreamInfo> {
  const deadline = Date.now() + ELECTION_WAIT_MS;
  let latest = info;
  for (;;) {
    const peers = latest.cluster?.replicas ?? [];
    if (latest.cluster?.leader && peers.length === latest.config.num_replicas - 1 && peers.every((p) => p.current)) return latest;
    if (Date.now() > deadline) return latest;
    await new Promise((resolve) => setTimeout(resolve, 200));
    latest = (await streamInfo(jsm, name)) ?? latest;
  }
}

/** Reads a stream's info, `undefined` when it does not exist. */
async function streamInfo(jsm: JetStreamManager, name: string): Promise<StreamInfo | undefined> {
  try {
    return await throughElections(() => jsm.streams.info(name));
  } catch (e) {
    if (isApiError(e, JetStreamApiCodes.StreamNotFound)) return undefined;
    throw new TransportError(`cannot read stream ${name}: ${message(e)}`, { cause: e });
  }
}

/** Fields no nats-server can change on an existing stream (2.9 cannot change retention either). */
const STREAM_FIXED = ['storage', 'retention'] as const;

/** What every `ensure*` needs besides the resource: the server's version, and the drift policy. */
export interface Context {
  readonly version: string;
  readonly force: boolean;
  readonly drift: (d: ProvisionDrift) => void;
}

/**
 * Drops from `changed` what an operator set on purpose (more replicas, another placement),
 * reporting each as a drift, unless `force`. Raising replicas is an update like any other.
 */
function keepOperatorChoices(stream: string, changed: readonly Diff[], ctx: Context): Diff[] {
  if (ctx.force) return [...changed];
  return changed.filter((d) => {
    const operator = d.field === 'placement' || (d.field === 'num_replicas' && Number(d.have) > Number(d.want));
    if (operator) ctx.drift(new ProvisionDrift(stream, d.field as 'num_replicas' | 'placement', d.have, d.want));
    return !operator;
  });
}

export async function ensureStream(jsm: JetStreamManager, want: Partial<StreamConfig> & { name: string }, mutable: readonly (keyof StreamConfig & string)[], ctx: Context): Promise<StreamInfo> {
  const { version } = ctx;
  const current = await streamInfo(jsm, want.name);
  if (!current) {
    try {
      return await jsm.streams.add(want);
    } catch (e) {
      // Another process created it between our read and our create: reconcile with theirs.
      if (isApiError(e, STREAM_NAME_IN_USE) && (await streamInfo(jsm, want.name))) return ensureStream(jsm, want, mutable, ctx);
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
  const changed = keepOperatorChoices(want.name, diff(current.config, want, mutable), ctx);
  if (changed.length === 0) return current;
  const update = Object.fromEntries(changed.map((d) => [d.field, d.want]));
  try {
    const updated = await jsm.streams.update(want.name, update);
    if (!('num_replicas' in update)) return updated;
    const after = await settled(jsm, want.name, updated);
    if (after.config.retention === RetentionPolicy.Workqueue && needsConsumerRenewalAfterRescale(version)) await renewConsumers(jsm, want.name, ctx);
    return after;
  } catch (e) {
    if (e instanceof TransportError) throw e;
    throw new TransportError(`nats-server ${version} refused to update stream ${want.name} (${describe(changed)}): ${message(e)}`, { cause: e });
  }
}

/**
 * Deletes and adds again, with the same config, every durable consumer of a work-queue stream
 * whose replicas just changed: on nats-server < {@link WORKQUEUE_RESCALE_FIXED_IN} the stream
 * stops removing what a consumer from before the change acks. Nothing is lost: a work-queue
 * stream holds exactly what is not acked yet, and the new consumer (deliver all) delivers it;
 * a delivery still in a handler somewhere comes again at once (settling is idempotent).
 */
async function renewConsumers(jsm: JetStreamManager, stream: string, ctx: Context): Promise<void> {
  // The stream was just updated, so it exists: while its peers move (a rescale down most of
  // all), the consumer API can answer "stream not found" for a moment. That is transient here.
  const moving = (e: unknown) => isApiError(e, JetStreamApiCodes.StreamNotFound);
  const durables: ConsumerInfo[] = [];
  await throughElections(async () => {
    durables.length = 0;
    for await (const c of jsm.consumers.list(stream)) if (c.config.durable_name) durables.push(c);
  }, moving);
  for (const { config } of durables) {
    const name = config.durable_name!;
    try {
      await throughElections(() => jsm.consumers.delete(stream, name), moving).catch((e: unknown) => {
        if (!isApiError(e, JetStreamApiCodes.ConsumerNotFound)) throw e;
      });
      await throughElections(() => jsm.consumers.add(stream, config), moving);
    } catch (e) {
      throw new TransportError(
        `stream ${stream} was rescaled, and its consumer ${name} must be recreated on nats-server ${ctx.version} (< ${WORKQUEUE_RESCALE_FIXED_IN}; else the stream keeps what it acks), but that failed: ${message(e)}. ` +
          `Stop every process, delete the consumer (nats consumer rm ${stream} ${name}; its unacked messages stay in the stream) and start again.`,
        { cause: e },
      );
    }
  }
}

export async function consumerInfo(jsm: JetStreamManager, stream: string, name: string): Promise<ConsumerInfo | undefined> {
  try {
    return await throughElections(() => jsm.consumers.info(stream, name));
  } catch (e) {
    if (isApiError(e, JetStreamApiCodes.ConsumerNotFound)) return undefined;
    throw new TransportError(`cannot read consumer ${stream}/${name}: ${message(e)}`, { cause: e });
  }
}

/** Fields that make a consumer a different consumer; 2.9 changes none of them in place. */
const CONSUMER_FIXED = ['ack_policy', 'deliver_policy', 'replay_policy', 'deliver_subject', 'filter_subject'] as const;
const CONSUMER_MUTABLE = ['description', 'max_deliver', 'ack_wait', 'max_ack_pending'] as const;

export async function ensureConsumer(jsm: JetStreamManager, stream: string, want: Partial<ConsumerConfig> & { durable_name: string }, ctx: Context, retry = true): Promise<ConsumerInfo> {
  const { version } = ctx;
  const name = want.durable_name;
  const current = await consumerInfo(jsm, stream, name);
  if (!current) {
    try {
      return await jsm.consumers.add(stream, want);
    } catch (e) {
      if (retry && isApiError(e) && (await consumerInfo(jsm, stream, name))) return ensureConsumer(jsm, stream, want, ctx, false);
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

/** The first nats-server with direct get (`allow_direct`, `$JS.API.DIRECT.GET`). */
export const DIRECT_GET_SINCE = '2.9.0';

/**
 * Opens an existing bucket reading as {@link readsDirect} says for its stream's `info` (read
 * when not given), back to the leader where a direct get goes unanswered
 * ({@link leaderWhenDirectUnanswered}).
 */
export async function openBucket(js: JetStreamClient, jsm: JetStreamManager, bucket: string, info?: StreamInfo): Promise<KV> {
  info ??= await streamInfo(jsm, kvStreamName(bucket));
  if (!info) throw new TransportError(`KV bucket ${bucket} does not exist (no stream ${kvStreamName(bucket)})`);
  const kv = (await new Kvm(js).open(bucket, { allow_direct: readsDirect(info) })) as Bucket;
  return leaderWhenDirectUnanswered(kv, jsm);
}

/**
 * Direct get off before the stream gets more copies or moves, as its own update while it is
 * one copy: nats-server 2.9 unsubscribes the direct-get group only then (`stream.update`,
 * `cfg.Replicas == 1`), and a follower made later joins it only if `allow_direct` is set.
 */
async function directOffBeforeReshape(jsm: JetStreamManager, info: StreamInfo, version: string): Promise<void> {
  if (!info.config.allow_direct) return;
  try {
    await throughElections(() => jsm.streams.update(info.config.name, { allow_direct: false }));
  } catch (e) {
    throw new TransportError(`nats-server ${version} refused to turn off direct get on stream ${info.config.name} before rescaling or moving it: ${message(e)}`, { cause: e });
  }
}

/**
 * Creates or reconciles a KV bucket and opens it. Its reads are the same in every process (the
 * one that created it and those that opened it): direct get where that is consistent (one copy,
 * see {@link readsDirect}), the stream leader otherwise. So a bucket is made with `allow_direct`
 * only at one copy; an existing one-copy bucket without it (an older server made it) gets it;
 * and before a bucket is rescaled or moved, direct get goes off (processes still reading
 * direct fall back to the leader, see {@link leaderWhenDirectUnanswered}) and comes back on at a later start
 * that finds it at one copy again.
 */
export async function ensureBucket(
  js: JetStreamClient,
  jsm: JetStreamManager,
  bucket: string,
  want: { history: number; ttlMs: number; replicas: number; description: string },
  ctx: Context & { readonly placement?: ProvisionPlacement },
  retry = true,
): Promise<KV> {
  const stream = kvStreamName(bucket);
  const current = await streamInfo(jsm, stream);
  // A server that does not say its version gets leader reads: it may not have direct get.
  const direct = parseVersion(ctx.version) !== undefined && isAtLeast(ctx.version, DIRECT_GET_SINCE);
  try {
    if (!current) {
      try {
        const placement = ctx.placement ? { placement: placementOf(ctx.placement) } : {};
        // Direct get only where every process may use it (one copy): see readsDirect.
        await new Kvm(js).create(bucket, { history: want.history, ttl: want.ttlMs, replicas: want.replicas, storage: StorageType.File, description: want.description, allow_direct: direct && want.replicas === 1, ...placement });
      } catch (e) {
        // Another process created it first (with its own settings): reconcile with what it made.
        if (retry && (await streamInfo(jsm, stream))) return await ensureBucket(js, jsm, bucket, want, ctx, false);
        throw e;
      }
      // Another process may have created it first with other settings: read what is there.
      const made = await streamInfo(jsm, stream);
      if (!made) throw new TransportError(`KV bucket ${bucket} was created, but its stream ${stream} is gone`);
      return await openBucket(js, jsm, bucket, made);
    }
    const maxAge = nanos(want.ttlMs);
    const wanted: Partial<StreamConfig> & { name: string } = {
      name: stream,
      storage: StorageType.File,
      max_msgs_per_subject: want.history,
      max_age: maxAge,
      num_replicas: want.replicas,
      description: want.description,
      ...(ctx.placement ? { placement: placementOf(ctx.placement) } : {}),
    };
    // The dedupe window may not exceed max_age: shrink it with the TTL.
    const dup = current.config.duplicate_window;
    if (maxAge > 0 && dup > maxAge) wanted.duplicate_window = maxAge;
    const reshape = keepOperatorChoices(stream, diff(current.config, wanted, ['num_replicas', 'placement']), { ...ctx, drift: () => undefined }).length > 0;
    if (reshape) await directOffBeforeReshape(jsm, current, ctx.version);
    let info = await ensureStream(jsm, wanted, ['max_msgs_per_subject', 'max_age', 'num_replicas', 'description', 'duplicate_window', 'placement'], ctx);
    // One copy, not just rescaled or moved (a move may still be under way): direct get on,
    // for a stream made by an older server or one whose copies were lowered to one.
    if (direct && !reshape && !info.config.allow_direct && info.config.num_replicas === 1 && (info.cluster?.replicas ?? []).length === 0) {
      info = await throughElections(() => jsm.streams.update(stream, { allow_direct: true }));
    }
    return await openBucket(js, jsm, bucket, info);
  } catch (e) {
    if (e instanceof TransportError) throw e;
    throw new TransportError(`cannot create or open KV bucket ${bucket}: ${message(e)}`, { cause: e });
  }
}

/** The placement as the server echoes it back (empty fields left out), so an unchanged one compares equal. */
export function placementOf(p: ProvisionPlacement): Placement {
  return { ...(p.cluster ? { cluster: p.cluster } : {}), ...(p.tags?.length ? { tags: [...p.tags] } : {}) } as Placement;
}

