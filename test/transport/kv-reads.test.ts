/**
 * How `ensureBucket` makes a bucket's reads go: `$JS.API.DIRECT.GET` where that is consistent
 * (the stream allows it and has one copy), the stream leader (`$JS.API.STREAM.MSG.GET`)
 * otherwise, the same in the process that created the bucket and in every one that opened it.
 * Which API a read used is observed on the wire: a plain subscriber on both API subjects sees
 * every request (it never answers; the server's own subscriptions do). On the cluster it is on
 * the reading connection itself (its own messages come back to it): a subscriber elsewhere
 * sees them only once its interest has crossed the routes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jetstreamManager, StorageType, type JetStreamManager } from '@nats-io/jetstream';
import type { Bucket, KV } from '@nats-io/kv';
import { nuid, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import { connectNats } from '../../src/transport/connect.ts';
import { ensureBucket, type Context } from '../../src/transport/ensure-resource.ts';
import { kvStreamName } from '../../src/transport/names.ts';
import { startNatsServer, type NatsServerHandle } from '../support/nats-server.ts';
import { startNatsCluster, type NatsClusterHandle } from '../support/nats-cluster.ts';
import { waitFor } from '../support/wait-for.ts';

const want = (replicas = 1) => ({ history: 1, ttlMs: 0, replicas, description: 'kv-reads test' });
const freshBucket = () => `kvr-${nuid.next().slice(-12)}`;
const contextOf = (version: string): Context => ({ version, force: false, drift: () => undefined });
const isDirect = (kv: KV) => (kv as Bucket).direct;

/** Counts the get requests of one bucket on the wire, by API. */
async function watchReads(nc: NatsConnection, bucket: string): Promise<{ direct(): number; leader(): number; stop(): void }> {
  const stream = kvStreamName(bucket);
  let direct = 0;
  let leader = 0;
  const subs: Subscription[] = [
    nc.subscribe(`$JS.API.DIRECT.GET.${stream}.>`, { callback: () => void direct++ }),
    nc.subscribe(`$JS.API.DIRECT.GET.${stream}`, { callback: () => void direct++ }),
    nc.subscribe(`$JS.API.STREAM.MSG.GET.${stream}`, { callback: () => void leader++ }),
  ];
  await nc.flush();
  return { direct: () => direct, leader: () => leader, stop: () => subs.forEach((s) => s.unsubscribe()) };
}

/** Gets `key` through `kv` and waits until the watcher has seen the request go by. */
async function readThrough(kv: KV, key: string, watch: { direct(): number; leader(): number }): Promise<{ value: string | undefined; via: 'direct' | 'leader' }> {
  const before = { direct: watch.direct(), leader: watch.leader() };
  const entry = await kv.get(key);
  await waitFor(() => watch.direct() + watch.leader() > before.direct + before.leader, { timeoutMs: 5_000 });
  return { value: entry?.string(), via: watch.direct() > before.direct ? 'direct' : 'leader' };
}

describe('KV reads on one server', () => {
  let server: NatsServerHandle;
  let creator: NatsConnection;
  let opener: NatsConnection;
  let observer: NatsConnection;
  let jsm: JetStreamManager;
  let ctx: Context;

  beforeAll(async () => {
    server = await startNatsServer();
    creator = await connectNats({ url: server.url, name: 'kv-reads-creator' });
    opener = await connectNats({ url: server.url, name: 'kv-reads-opener' });
    observer = await connectNats({ url: server.url, name: 'kv-reads-observer' });
    jsm = await jetstreamManager(creator);
    ctx = contextOf(server.version);
  });
  afterAll(async () => {
    await Promise.all([creator, opener, observer].map((nc) => nc?.close()));
    await server?.stop();
  });

  const ensure = async (nc: NatsConnection, bucket: string) => ensureBucket((await jetstreamManager(nc)).jetstream(), await jetstreamManager(nc), bucket, want(), ctx);

  it('reads with direct get in the process that created the bucket and in one that opened it', async () => {
    const bucket = freshBucket();
    const created = await ensure(creator, bucket);
    const opened = await ensure(opener, bucket);
    expect((await jsm.streams.info(kvStreamName(bucket))).config).toMatchObject({ allow_direct: true, num_replicas: 1 });
    expect([isDirect(created), isDirect(opened)]).toEqual([true, true]);

    await created.put('k', 'v');
    const watch = await watchReads(observer, bucket);
    try {
      expect(await readThrough(opened, 'k', watch)).toEqual({ value: 'v', via: 'direct' });
      // A missing key (the usual case of `Conversations.answeredBy`) is null, not an error.
      expect(await readThrough(opened, 'missing', watch)).toEqual({ value: undefined, via: 'direct' });
      expect(await readThrough(created, 'missing', watch)).toEqual({ value: undefined, via: 'direct' });
      expect(watch.leader()).toBe(0);
    } finally {
      watch.stop();
    }
  });

  it('turns direct get on for a one-copy bucket stream made without it (an older server, another tool)', async () => {
    const bucket = freshBucket();
    const stream = kvStreamName(bucket);
    await jsm.streams.add({ name: stream, subjects: [`$KV.${bucket}.>`], storage: StorageType.File, max_msgs_per_subject: 1, allow_rollup_hdrs: true, deny_delete: true, allow_direct: false, description: 'kv-reads test' });
    const kv = await ensure(opener, bucket);
    expect((await jsm.streams.info(stream)).config.allow_direct).toBe(true);
    expect(isDirect(kv)).toBe(true);
    expect(await kv.get('missing')).toBeNull();
  });

  it('reads from the leader once another process turns direct get off (to rescale or move the bucket), and stays there', async () => {
    const bucket = freshBucket();
    const kv = await ensure(opener, bucket);
    await kv.put('k', 'v');
    expect(isDirect(kv)).toBe(true);
    // What ensureBucket in the process that rescales does first.
    await jsm.streams.update(kvStreamName(bucket), { allow_direct: false });

    // The direct get finds nobody to answer; the same read comes back from the leader.
    // (Before the watcher subscribes: it would be a responder that never answers.)
    expect((await kv.get('k'))?.string()).toBe('v');
    expect(isDirect(kv)).toBe(false);
    const watch = await watchReads(observer, bucket);
    try {
      expect(await readThrough(kv, 'missing', watch)).toEqual({ value: undefined, via: 'leader' });
    } finally {
      watch.stop();
    }
    // A later start finds one copy without direct get, and turns it on again.
    expect(isDirect(await ensure(opener, bucket))).toBe(true);
  });
});

describe('KV reads on a 3-node cluster', () => {
  let cluster: NatsClusterHandle;
  let nc: NatsConnection;
  let other: NatsConnection;
  let jsm: JetStreamManager;
  let ctx: Context;

  beforeAll(async () => {
    cluster = await startNatsCluster();
    // Each on another node: a direct get goes to a local copy first, a follower's where there is one.
    nc = await connectNats({ url: cluster.urls[0]!, name: 'kv-reads-cluster' });
    other = await connectNats({ url: cluster.urls[1]!, name: 'kv-reads-cluster-other' });
    jsm = await jetstreamManager(nc);
    ctx = contextOf(cluster.version);
    // A meta leader answers before it knows every peer ("no suitable peers for placement"):
    // wait until an R3 stream can be made.
    await waitFor(() => jsm.streams.add({ name: 'KV_READS_PROBE', subjects: ['kv-reads-probe'], num_replicas: 3 }).then(() => true, () => false), { timeoutMs: 30_000, what: 'an R3 stream to be placed' });
    await jsm.streams.delete('KV_READS_PROBE');
  }, 60_000);
  afterAll(async () => {
    await Promise.all([nc, other].map((c) => c?.close()));
    await cluster?.stop();
  });

  const ensure = async (c: NatsConnection, bucket: string, replicas: number) => ensureBucket((await jetstreamManager(c)).jetstream(), await jetstreamManager(c), bucket, want(replicas), ctx);

  it('makes an R3 bucket without direct get, and every process reads it from the leader', async () => {
    const bucket = freshBucket();
    const created = await ensure(nc, bucket, 3);
    const opened = await ensure(other, bucket, 3);
    expect((await jsm.streams.info(kvStreamName(bucket))).config).toMatchObject({ allow_direct: false, num_replicas: 3 });
    expect([isDirect(created), isDirect(opened)]).toEqual([false, false]);

    await created.put('k', 'v');
    const [watchOpened, watchCreated] = [await watchReads(other, bucket), await watchReads(nc, bucket)];
    try {
      expect(await readThrough(opened, 'k', watchOpened)).toEqual({ value: 'v', via: 'leader' });
      expect(await readThrough(created, 'missing', watchCreated)).toEqual({ value: undefined, via: 'leader' });
      expect(watchOpened.direct() + watchCreated.direct()).toBe(0);
    } finally {
      watchOpened.stop();
      watchCreated.stop();
    }
  }, 60_000);

  it('an R1 bucket raised to R3 under a running process: direct get goes off first, and the running process reads from the leader', async () => {
    const bucket = freshBucket();
    const stream = kvStreamName(bucket);
    const running = await ensure(nc, bucket, 1);
    expect(isDirect(running)).toBe(true);
    await running.put('k', 'v');

    const raised = await ensure(other, bucket, 3);
    const info = await jsm.streams.info(stream);
    expect(info.config).toMatchObject({ allow_direct: false, num_replicas: 3 });
    expect(isDirect(raised)).toBe(false);
    // Nothing answers a direct get of this stream any more: no copy joined the direct-get group.
    await expect(jsm.direct.getMessage(stream, { last_by_subj: `$KV.${bucket}.k` })).rejects.toThrow();

    expect((await running.get('k'))?.string()).toBe('v');
    expect(isDirect(running)).toBe(false);
    const watch = await watchReads(nc, bucket);
    try {
      expect(await readThrough(running, 'k', watch)).toEqual({ value: 'v', via: 'leader' });
    } finally {
      watch.stop();
    }
  }, 90_000);
});
