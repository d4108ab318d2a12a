import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { startNatsCluster, type NatsClusterHandle } from '../support/nats-cluster.ts';

describe('the 3-node cluster harness', () => {
  let cluster: NatsClusterHandle;
  let nc: NatsConnection;

  beforeAll(async () => {
    cluster = await startNatsCluster();
    nc = await connect({ servers: cluster.urls, reconnectTimeWait: 100, maxReconnectAttempts: -1 });
  }, 60_000);
  afterAll(async () => {
    await nc?.close();
    await cluster?.stop();
  });

  it('runs three distinct JetStream nodes that hold an R3 stream, which keeps its messages when its leader is killed', async () => {
    expect(new Set(cluster.nodes.map((n) => n.port)).size).toBe(3);
    expect(new Set(cluster.nodes.map((n) => n.storeDir)).size).toBe(3);
    const jsm = await jetstreamManager(nc);
    const info = await jsm.streams.add({ name: 'HARNESS', subjects: ['harness.>'], num_replicas: 3 });
    expect(info.config.num_replicas).toBe(3);
    const js = jetstream(nc);
    for (let i = 0; i < 10; i++) await js.publish('harness.x', String(i));

    const leader = await cluster.leaderOf(jsm, 'HARNESS');
    await cluster.kill(leader);
    expect(cluster.nodes[leader]!.running()).toBe(false);
    // A new leader is elected among the two left; the stream answers with every message.
    let after = -1;
    for (let tries = 0; tries < 100 && after < 0; tries++) {
      try {
        after = await cluster.leaderOf(jsm, 'HARNESS');
      } catch (_) {
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    }
    expect(after).not.toBe(leader);
    await js.publish('harness.x', '10', { retries: 20 });
    expect((await jsm.streams.info('HARNESS')).state.messages).toBe(11);

    await cluster.restart(leader);
    expect(cluster.nodes[leader]!.running()).toBe(true);
  }, 90_000);
});
