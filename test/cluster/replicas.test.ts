/**
 * Replicas on a real 3-node cluster: provisioned everywhere, raised in place, never lowered
 * unless forced, an operator's R3 reported as drift and kept.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nuid, type NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager, RetentionPolicy, StorageType, type JetStreamManager } from '@nats-io/jetstream';
import { connectNats } from '../../src/transport/connect.ts';
import { createNames, kvStreamName, type Names } from '../../src/transport/names.ts';
import { provision, ProvisionDrift, type ProvisionOptions } from '../../src/transport/provision.ts';
import { startNatsCluster, type NatsClusterHandle } from '../support/nats-cluster.ts';

const base: ProvisionOptions = {
  inbox: { maxDeliver: 5, ackWaitMs: 30_000, duplicateWindowMs: 120_000 },
  replayWindowMs: 600_000,
};

let cluster: NatsClusterHandle;
let nc: NatsConnection;
let jsm: JetStreamManager;
const freshNames = (): Names => createNames(`c${nuid.next().slice(-12)}`);
const everyStream = (names: Names) => [...Object.values(names.streams), ...Object.values(names.buckets).map(kvStreamName)];
const replicasOf = async (names: Names) => Object.fromEntries(await Promise.all(everyStream(names).map(async (s) => [s, (await jsm.streams.info(s)).config.num_replicas] as const)));
const all = (names: Names, n: number) => Object.fromEntries(everyStream(names).map((s) => [s, n]));

beforeAll(async () => {
  cluster = await startNatsCluster();
  nc = await connectNats({ url: cluster.urls.join(','), name: 'replicas-test', reconnectTimeWaitMs: 100 });
  jsm = await jetstreamManager(nc);
}, 60_000);
afterAll(async () => {
  await nc?.close();
  await cluster?.stop();
});

describe('provision on a 3-node cluster', () => {
  it('gives every stream and KV bucket the configured replicas', async () => {
    const names = freshNames();
    const handles = await provision(nc, names, { ...base, replicas: 3 });
    expect(await replicasOf(names)).toEqual(all(names, 3));
    expect(handles.drift).toEqual([]);
    // Consumers follow their stream (0 = the stream's replicas).
    const consumer = await jsm.consumers.info(names.streams.inbox, names.consumers.inbox);
    expect(consumer.config.num_replicas ?? 0).toBe(0);
    expect(consumer.cluster?.replicas?.length).toBe(2);
  }, 60_000);

  it('raises the replicas of existing R1 streams and buckets in place (nats-server 2.9 scales up), keeping their messages', async () => {
    const names = freshNames();
    const first = await provision(nc, names, base);
    expect(await replicasOf(names)).toEqual(all(names, 1));
    await first.js.publish(names.inboxSubject('a.example', 'b.example'), 'kept');
    await first.status.put('k', 'v');

    const second = await provision(nc, names, { ...base, replicas: 3 });
    expect(await replicasOf(names)).toEqual(all(names, 3));
    expect((await jsm.streams.info(names.streams.inbox)).state.messages).toBe(1);
    expect((await second.status.get('k'))?.string()).toBe('v');
  }, 60_000);

  it('leaves an operator-made R3 stream at R3 under replicas 1 and names it in a drift warning; force lowers it', async () => {
    const names = freshNames();
    // The operator made the inbox R3 before any start.
    await jsm.streams.add({ name: names.streams.inbox, subjects: [names.streamSubjects.inbox], retention: RetentionPolicy.Workqueue, storage: StorageType.File, num_replicas: 3 });
    const seen: ProvisionDrift[] = [];
    const handles = await provision(nc, names, { ...base, onDrift: (d) => seen.push(d) });

    expect((await jsm.streams.info(names.streams.inbox)).config.num_replicas).toBe(3);
    expect((await jsm.streams.info(names.streams.outbox)).config.num_replicas).toBe(1);
    expect(seen).toHaveLength(1);
    expect(handles.drift).toEqual(seen);
    expect(seen[0]).toBeInstanceOf(ProvisionDrift);
    expect(seen[0]).toMatchObject({ stream: names.streams.inbox, field: 'num_replicas', have: 3, want: 1 });
    expect(seen[0]!.message).toContain(names.streams.inbox);
    expect(seen[0]!.message).toContain('--force-provision');
    // Again: still left, still reported (each start says so).
    expect((await provision(nc, names, base)).drift).toHaveLength(1);

    const forced = await provision(nc, names, { ...base, force: true });
    expect(forced.drift).toEqual([]);
    expect((await jsm.streams.info(names.streams.inbox)).config.num_replicas).toBe(1);
  }, 60_000);

  it('keeps an operator-made R3 bucket too, and an R5 request on three nodes is a clear error', async () => {
    const names = freshNames();
    await provision(nc, names, { ...base, replicas: 3 });
    const { drift } = await provision(nc, names, base);
    expect(drift.map((d) => d.stream).sort()).toEqual(everyStream(names).sort());
    expect(await replicasOf(names)).toEqual(all(names, 3));

    await expect(provision(nc, freshNames(), { ...base, replicas: 5 })).rejects.toThrow(/cannot create stream .*_INBOX/);
  }, 60_000);

  it('places new streams by cluster name, and reports another placement as drift', async () => {
    const names = freshNames();
    await provision(nc, names, { ...base, replicas: 3, placement: { cluster: 'mailroom-test' } });
    expect((await jsm.streams.info(names.streams.inbox)).config.placement).toMatchObject({ cluster: 'mailroom-test' });
    expect((await jsm.streams.info(kvStreamName(names.buckets.status))).config.placement).toMatchObject({ cluster: 'mailroom-test' });
    // Placement absent from the options: nothing to compare, no drift.
    expect((await provision(nc, names, { ...base, replicas: 3 })).drift).toEqual([]);
    const moved = await provision(nc, names, { ...base, replicas: 3, placement: { cluster: 'elsewhere' } });
    expect(moved.drift.map((d) => d.field)).toEqual(everyStream(names).map(() => 'placement'));
    expect((await jsm.streams.info(names.streams.inbox)).config.placement).toMatchObject({ cluster: 'mailroom-test' });
  }, 60_000);
});
