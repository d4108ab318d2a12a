/** Domains spread over processes on a real 3-node JetStream cluster: runtime A and B connect to different nodes. */
import { afterAll, beforeAll, describe, it } from 'vitest';
import type { NatsConnection } from '@nats-io/transport-node';
import { startNatsCluster, type NatsClusterHandle } from '../support/nats-cluster.ts';
import { runDomainsSpread } from '../runtime/domains-spread-scenario.ts';
import { connectNats } from '../../src/transport/connect.ts';

let cluster: NatsClusterHandle;
let nc: NatsConnection;

beforeAll(async () => {
  cluster = await startNatsCluster();
  nc = await connectNats({ url: cluster.urls[2]! });
}, 60_000);
afterAll(async () => {
  await nc?.close();
  await cluster?.stop();
});

describe('domains spread over processes, on a cluster', () => {
  it('gives each process only the envelopes of its own domains', async () => {
    await runDomainsSpread([cluster.urls[0]!, cluster.urls[1]!], nc);
  }, 60_000);
});
