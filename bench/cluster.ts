/**
 * Cluster: throughput of one runtime on a 3-node JetStream cluster with every stream and
 * bucket at 3 replicas, against the same runtime on a single server at 1 replica, same run,
 * same envelopes, rounds alternating. The runtime is `pipeline.ts`'s `mailroom` contender
 * (a pre-filled inbox drained to `replied`). On one small machine the three nodes share the
 * cores with the runtime: the ratio measures what replication costs, not how a cluster scales.
 *
 *   npx tsx bench/cluster.ts [--quick] [--json]
 */
import { join } from 'node:path';
import { spawnNatsServer } from '../src/transport/spawn-nats-server.ts';
import { startNatsCluster } from '../test/support/nats-cluster.ts';
import { makeEnvelopes } from './fixtures.ts';
import { MAILROOM_CONCURRENCY, mailroomRun } from './pipeline.ts';
import { Cleanup, isMain, makeTempDir, median, progress, removeTempDir, runAsScript, type BenchOptions, type BenchResult } from './support.ts';

export async function run(options: BenchOptions): Promise<BenchResult> {
  const count = options.quick ? 1_000 : 5_000;
  const warmup = options.quick ? 300 : 1_000;
  const rounds = options.quick ? 1 : 3;
  const scope = new Cleanup();
  try {
    const dir = await makeTempDir('cluster');
    scope.defer(() => removeTempDir(dir));
    progress(options, 'cluster: starting a single nats-server and a 3-node cluster');
    const single = await spawnNatsServer({ args: ['-js', '-sd', join(dir, 'single'), '-a', '127.0.0.1', '-p', '-1'] });
    scope.defer(() => single.stop());
    const cluster = await startNatsCluster();
    scope.defer(() => cluster.stop());
    const clusterUrl = cluster.urls.join(',');

    const contenders = [
      { key: 'single', label: 'single server, R1 (msgs/s)', run: (n: number, round: string) => mailroomRun(single.url, dir, makeEnvelopes(n), `single${round}`), rates: [] as number[] },
      { key: 'cluster', label: '3-node cluster, R3 (msgs/s)', run: (n: number, round: string) => mailroomRun(clusterUrl, dir, makeEnvelopes(n), `cluster${round}`, { replicas: 3 }), rates: [] as number[] },
    ];
    for (const c of contenders) {
      progress(options, `cluster: warm-up: ${c.key}`);
      await c.run(warmup, `w${c.key}`);
    }
    for (let round = 0; round < rounds; round++) {
      for (let k = 0; k < contenders.length; k++) {
        const c = contenders[(k + round) % contenders.length]!;
        progress(options, `cluster: round ${round + 1}/${rounds}: ${c.key}`);
        c.rates.push(await c.run(count, `${round}`));
      }
    }
    const [single1, cluster3] = contenders.map((c) => median(c.rates)) as [number, number];
    const ratio = cluster3 / single1;
    return {
      name: 'cluster',
      results: { [contenders[0]!.label]: single1, [contenders[1]!.label]: cluster3, 'cluster R3 ÷ single R1': ratio },
      notes: [
        `${count} envelopes a round, ${rounds} round(s) alternating, median; delivery.concurrency ${MAILROOM_CONCURRENCY}; nats-server ${cluster.version}`,
        'the three nodes, their routes and the runtime share this machine: the ratio is the cost of R3 (every write acked by a quorum), not scale-out',
      ],
      summary: [
        { figure: 'cluster: one runtime on 3 nodes at R3', value: cluster3, unit: 'msgs/s', ratio, versus: 'single server at R1' },
      ],
    };
  } finally {
    await scope.run();
  }
}

if (isMain(import.meta.url)) await runAsScript(run);
