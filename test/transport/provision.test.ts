import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nanos, nuid, type NatsConnection } from '@nats-io/transport-node';
import { AckPolicy, DeliverPolicy, jetstreamManager, RetentionPolicy, StorageType, type JetStreamManager } from '@nats-io/jetstream';
import { connectNats } from '../../src/transport/connect.ts';
import { createNames, type Names } from '../../src/transport/names.ts';
import { provision, type ProvisionOptions } from '../../src/transport/provision.ts';
import { ConfigError, TransportError } from '../../src/errors.ts';
import { startNatsServer, type NatsServerHandle } from '../support/nats-server.ts';
import { waitFor } from '../support/wait-for.ts';

const options: ProvisionOptions = {
  inbox: { maxDeliver: 5, ackWaitMs: 30_000, duplicateWindowMs: 120_000 },
  replayWindowMs: 600_000,
};

let server: NatsServerHandle;
let nc: NatsConnection;
let jsm: JetStreamManager;
/** A fresh prefix per test, so tests share the server without sharing streams. */
const freshNames = (): Names => createNames(`t${nuid.next().slice(-12)}`);

beforeAll(async () => {
  server = await startNatsServer();
  nc = await connectNats({ url: server.url, name: 'provision-test' });
  jsm = await jetstreamManager(nc);
});
afterAll(async () => {
  await nc?.close();
  await server?.stop();
});

describe('provision', () => {
  it('creates streams, consumers and buckets with the asked settings, and is idempotent', async () => {
    const names = freshNames();
    await provision(nc, names, options);
    const created = await jsm.streams.info(names.streams.inbox);
    const again = await provision(nc, names, options);

    for (const [stream, subject, retention] of [
      [names.streams.inbox, names.streamSubjects.inbox, RetentionPolicy.Workqueue],
      [names.streams.outbox, names.streamSubjects.outbox, RetentionPolicy.Workqueue],
      [names.streams.dlq, names.streamSubjects.dlq, RetentionPolicy.Limits],
    ] as const) {
      const { config } = await jsm.streams.info(stream);
      expect(config).toMatchObject({ subjects: [subject], storage: StorageType.File, retention, duplicate_window: nanos(120_000), max_age: 0, num_replicas: 1 });
    }
    // Not recreated by the second call.
    expect((await jsm.streams.info(names.streams.inbox)).created).toBe(created.created);

    for (const [stream, durable] of [
      [names.streams.inbox, names.consumers.inbox],
      [names.streams.outbox, names.consumers.outbox],
    ] as const) {
      const { config } = await jsm.consumers.info(stream, durable);
      expect(config).toMatchObject({ durable_name: durable, ack_policy: AckPolicy.Explicit, deliver_policy: DeliverPolicy.All, max_deliver: 5, ack_wait: nanos(30_000), max_ack_pending: 1024 });
      expect(config.deliver_subject ?? '').toBe('');
      expect(await countConsumers(stream)).toBe(1);
    }

    const status = await again.status.status();
    expect(status.history).toBe(1);
    expect(status.ttl).toBe(0);
    expect(status.bucket).toBe(names.buckets.status);
    const replay = await again.replay.status();
    expect(replay.history).toBe(1);
    expect(replay.ttl).toBe(600_000);
    expect(replay.storage).toBe(StorageType.File);
  });

  it('updates what it can when the options change, without losing messages', async () => {
    const names = freshNames();
    const first = await provision(nc, names, options);
    await first.js.publish(names.inboxSubject('a.example', 'b.example'), 'kept');

    const second = await provision(nc, names, {
      inbox: { maxDeliver: 7, ackWaitMs: 10_000, duplicateWindowMs: 30_000, maxAgeMs: 3_600_000, maxAckPending: 64 },
      outbox: { maxDeliver: 3 },
      replayWindowMs: 60_000,
      statusTtlMs: 86_400_000,
    });

    const inbox = await jsm.streams.info(names.streams.inbox);
    expect(inbox.config).toMatchObject({ duplicate_window: nanos(30_000), max_age: nanos(3_600_000) });
    expect(inbox.state.messages).toBe(1);
    expect((await jsm.streams.info(names.streams.outbox)).config.duplicate_window).toBe(nanos(30_000));
    expect((await jsm.consumers.info(names.streams.inbox, names.consumers.inbox)).config).toMatchObject({ max_deliver: 7, ack_wait: nanos(10_000), max_ack_pending: 64 });
    expect((await jsm.consumers.info(names.streams.outbox, names.consumers.outbox)).config).toMatchObject({ max_deliver: 3, ack_wait: nanos(10_000), max_ack_pending: 64 });
    expect((await second.replay.status()).ttl).toBe(60_000);
    expect((await second.status.status()).ttl).toBe(86_400_000);
  });

  it('status records expire after the status TTL; provisioning again sets a new TTL on the existing bucket', async () => {
    const names = freshNames();
    const first = await provision(nc, names, { ...options, statusTtlMs: 86_400_000 });
    await first.status.put('orders.example.c1', JSON.stringify({ state: 'replied' }));
    // Shortened on the running bucket (as a config change at the next start does); the record goes.
    const second = await provision(nc, names, { ...options, statusTtlMs: 1_000 });
    expect((await second.status.status()).ttl).toBe(1_000);
    await second.status.put('orders.example.c2', JSON.stringify({ state: 'queued' }));
    await waitFor(async () => (await second.status.get('orders.example.c2')) === null && (await second.status.get('orders.example.c1')) === null, { what: 'the status records to expire', timeoutMs: 15_000 });
    // Waiting conversations never take the status TTL.
    expect((await second.conversations.status()).ttl).toBe(0);
  });

  it('is safe when several processes provision at once, even with different options', async () => {
    // A rolling deploy: the losers of the create race must reconcile with the winner's resources.
    const names = freshNames();
    const variant = (k: number): ProvisionOptions => ({ inbox: { maxDeliver: k, ackWaitMs: 1000 * k, duplicateWindowMs: 1000 * k }, replayWindowMs: 1000 * k });
    const results = await Promise.allSettled([1, 2, 3].map((k) => provision(nc, names, variant(k))));
    expect(results.map((r) => (r.status === 'rejected' ? String(r.reason) : 'ok'))).toEqual(['ok', 'ok', 'ok']);
    expect(await countConsumers(names.streams.inbox)).toBe(1);
  });

  it('explains a stream setting the server cannot change', async () => {
    const names = freshNames();
    await jsm.streams.add({ name: names.streams.inbox, subjects: [names.streamSubjects.inbox], storage: StorageType.Memory });
    const error = await provision(nc, names, options).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TransportError);
    expect((error as Error).message).toMatch(/storage "memory" → "file"/);
    expect((error as Error).message).toContain(`nats stream rm ${names.streams.inbox}`);
  });

  it('explains a consumer that is not the pull consumer it needs', async () => {
    const names = freshNames();
    await provision(nc, names, options);
    await jsm.consumers.delete(names.streams.outbox, names.consumers.outbox);
    await jsm.consumers.add(names.streams.outbox, { durable_name: names.consumers.outbox, ack_policy: AckPolicy.Explicit, deliver_subject: `${names.prefix}.push.here` });
    const error = await provision(nc, names, options).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TransportError);
    expect((error as Error).message).toMatch(/deliver_subject/);
  });

  it('explains an update the server refuses', async () => {
    // The inbox stream exists on other subjects, and another stream already captures
    // the inbox subjects: the server refuses to move the inbox onto them.
    const names = freshNames();
    await jsm.streams.add({ name: names.streams.inbox, subjects: [`${names.prefix}-elsewhere.>`], storage: StorageType.File, retention: RetentionPolicy.Workqueue });
    await jsm.streams.add({ name: `${names.streams.inbox}_SQUATTER`, subjects: [names.streamSubjects.inbox] });
    const error = await provision(nc, names, options).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TransportError);
    expect((error as Error).message).toContain(`nats-server ${server.version} refused to update stream ${names.streams.inbox} (subjects`);
    expect((error as Error).message).toMatch(/overlap/);
  });

  it('refuses invalid options with every issue listed', async () => {
    const error = await provision(nc, freshNames(), {
      inbox: { maxDeliver: 0, ackWaitMs: -1, duplicateWindowMs: 120_000, maxAgeMs: 60_000 },
      replayWindowMs: 1.5,
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).issues.map((i) => i.path).sort()).toEqual(['inbox.ackWaitMs', 'inbox.duplicateWindowMs', 'inbox.maxDeliver', 'replayWindowMs']);
  });
});

describe('what provisioning guarantees', () => {
  it('refuses replicas 3 on a single server with the server\'s reason, naming the stream', async () => {
    const names = freshNames();
    await expect(provision(nc, names, { ...options, replicas: 3 })).rejects.toThrow(`cannot create stream ${names.streams.inbox}: replicas > 1 not supported in non-clustered mode`);
  });

  it('stores a Nats-Msg-Id once inside the duplicate window', async () => {
    const names = freshNames();
    const { js } = await provision(nc, names, options);
    const subject = names.inboxSubject('orders.example', 'shop.example');
    const msgID = names.inboxMsgId('shop.example', '0f8fad5b-d9cb-469f-a165-70867728950e', 'hash', 'signature');
    const first = await js.publish(subject, 'envelope', { msgID });
    const second = await js.publish(subject, 'envelope', { msgID });
    expect(first.duplicate).toBe(false);
    expect(second.duplicate).toBe(true);
    expect(second.seq).toBe(first.seq);
    expect((await jsm.streams.info(names.streams.inbox)).state.messages).toBe(1);
  });

  it('lets only the first create() of a replay key succeed', async () => {
    const names = freshNames();
    const { replay } = await provision(nc, names, options);
    const key = names.replayKey('shop.example', '0f8fad5b-d9cb-469f-a165-70867728950e');
    await expect(replay.create(key, 'first')).resolves.toBeGreaterThan(0);
    await expect(replay.create(key, 'second')).rejects.toThrow();
    expect((await replay.get(key))?.string()).toBe('first');
  });

  it('round-trips odd domains through real subjects and KV keys', async () => {
    const names = freshNames();
    const { js, status } = await provision(nc, names, options);
    const odd = ['bücher.example', 'a b*c>d', 'x%2Ey', 'tab\there', '😀.example', 'Anonymous'];
    for (const to of odd) {
      for (const from of odd) {
        const subject = names.inboxSubject(to, from);
        await js.publish(subject, 'x');
        const stored = await jsm.streams.getMessage(names.streams.inbox, { last_by_subj: subject });
        expect(names.parseSubject(stored!.subject)).toEqual({ kind: 'inbox', to, from });
        await status.put(names.statusKey(from, to), 'queued');
      }
    }
    const keys: string[] = [];
    for await (const k of await status.keys()) keys.push(k);
    expect(keys).toHaveLength(odd.length * odd.length);
    for (const k of keys) expect(odd).toContain(names.parseKey(k).from);
  });
});

async function countConsumers(stream: string): Promise<number> {
  let n = 0;
  for await (const _ of jsm.consumers.list(stream)) n++;
  return n;
}
