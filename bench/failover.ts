/**
 * Failover: one runtime on a 3-node JetStream cluster (loopback) with every stream and
 * bucket at 3 replicas (`nats.replicas: 3`), posting signed envelopes to `POST /inbox` at 200/s, evenly paced
 * (open loop: each post starts on its schedule, whatever the earlier ones are doing). A third
 * of the way in, the inbox stream's leader is SIGKILLed; two thirds in, it is restarted.
 * Measured: the share of posts answered 202 (goal ≥ 99 %), and the longest gap between two
 * envelopes reaching a final status (goal ≤ 5 s). Afterwards every accepted envelope must be
 * final, with one reply each in the outbox.
 *
 *   npx tsx bench/failover.ts [--quick] [--json]
 */
import { jetstreamManager } from '@nats-io/jetstream';
import { parseConfig } from '../src/config/index.ts';
import { startMailroom } from '../src/mailroom/start-mailroom.ts';
import { connectNats } from '../src/transport/connect.ts';
import { startNatsCluster } from '../test/support/nats-cluster.ts';
import { awaitReplicas, leaderSpread } from '../test/cluster/failover-support.ts';
import { makeEnvelopes, RECEIVER, SENDER } from './fixtures.ts';
import { mailroomInput } from './pipeline.ts';
import { Cleanup, isMain, makeTempDir, pollUntil, progress, removeTempDir, runAsScript, type BenchOptions, type BenchResult } from './support.ts';

const RATE = 200;
const SHARE_GOAL = 0.99;
const GAP_GOAL_MS = 5_000;

export async function run(options: BenchOptions): Promise<BenchResult> {
  const seconds = options.quick ? 15 : 30;
  const count = RATE * seconds;
  const scope = new Cleanup();
  try {
    const dir = await makeTempDir('failover');
    scope.defer(() => removeTempDir(dir));
    progress(options, 'failover: starting a 3-node cluster');
    const cluster = await startNatsCluster();
    scope.defer(() => cluster.stop());
    const url = cluster.urls.join(',');
    const prefix = 'failover';
    const config = parseConfig(await mailroomInput(url, dir, prefix, { nats: { url, prefix, replicas: 3 } }), { baseDir: dir, env: {} });
    const settledAt: number[] = [];
    const finals = new Set<string>();
    const mailroom = await startMailroom(config, { outboxWorker: false, onError: () => undefined, handlers: { [RECEIVER]: { 'Hello@Host': ({ body }) => ({ echo: body }) } } });
    scope.defer(() => mailroom.stop());
    const heard = new Map<string, string>();
    mailroom.events.on('settled', (status) => {
      heard.set(status.correlation, `${status.state} (attempt ${status.attempt})`);
      if (!status.final || finals.has(status.correlation)) return;
      finals.add(status.correlation);
      settledAt.push(performance.now());
    });
    const nc = await connectNats({ url });
    scope.defer(() => nc.close());
    const jsm = await jetstreamManager(nc);
    await awaitReplicas(jsm, prefix, 3);
    progress(options, `failover: leaders per server ${JSON.stringify(await leaderSpread(jsm, prefix))}`);

    const envelopes = makeEnvelopes(count);
    const answers = new Map<string, number>();
    const accepted = new Set<string>();
    let killed = -1;
    let killedAt = 0;
    let restartedAt = 0;
    const restarted: Promise<void>[] = [];
    progress(options, `failover: posting ${count} envelopes at ${RATE}/s; the inbox leader is killed at ${seconds / 3} s, restarted at ${(2 * seconds) / 3} s`);
    const start = performance.now();
    const posts: Promise<void>[] = [];
    for (let i = 0; i < count; i++) {
      const due = start + (i * 1000) / RATE;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      if (i === count / 3) {
        killed = await cluster.leaderOf(jsm, mailroom.names.streams.inbox);
        await cluster.kill(killed);
        killedAt = performance.now();
      }
      if (i === (2 * count) / 3) {
        restartedAt = performance.now();
        restarted.push(cluster.restart(killed));
      }
      posts.push(
        fetch(`${mailroom.url}/inbox`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: envelopes.payloads[i]! })
          .then(async (res) => {
            await res.arrayBuffer();
            answers.set(String(res.status), (answers.get(String(res.status)) ?? 0) + 1);
            if (res.status === 202) accepted.add(envelopes.correlations[i]!);
          })
          .catch((error: unknown) => {
            const key = `error ${error instanceof Error ? error.message : String(error)}`;
            answers.set(key, (answers.get(key) ?? 0) + 1);
          }),
      );
    }
    await Promise.all(posts);
    await Promise.all(restarted);
    const postedFor = (performance.now() - start) / 1000;
    progress(options, `failover: waiting until the ${accepted.size} accepted envelopes are final (the inbox, a work queue, empty)`);
    await pollUntil(async () => (await jsm.streams.info(mailroom.names.streams.inbox)).state.messages === 0, { timeoutMs: 180_000, intervalMs: 200, what: 'the inbox to empty (every accepted envelope final)' });
    // A status read may be answered by a replica still catching up (the restarted node): read the rest again, a few times.
    let notFinal = [...accepted];
    const seen = new Map<string, string>();
    for (let pass = 0; pass < 20 && notFinal.length > 0; pass++) {
      if (pass > 0) await new Promise((resolve) => setTimeout(resolve, 500));
      const read = await Promise.all(notFinal.map(async (c) => ({ c, status: await mailroom.status(SENDER, c).catch(() => undefined) })));
      for (const { c, status } of read) seen.set(c, status ? `${status.state} (attempt ${status.attempt})` : 'none');
      notFinal = read.filter(({ status }) => !status?.final).map(({ c }) => c);
    }
    const bucket = mailroom.names.buckets.status;
    const atLeader = async (c: string) => {
      const m = await jsm.streams.getMessage(`KV_${bucket}`, { last_by_subj: `$KV.${bucket}.${mailroom.names.statusKey(SENDER, c)}` }).catch(() => undefined);
      const st = m?.json<{ state: string; attempt: number; final: boolean }>();
      return st ? `${st.state} (attempt ${st.attempt}) at the leader` : 'none at the leader';
    };
    for (const c of notFinal.slice(0, 5)) seen.set(c, `${seen.get(c)}; ${await atLeader(c)}; last settled event: ${heard.get(c) ?? 'none'}`);
    if (notFinal.length > 0) {
      // Where did their messages go? The consumer's floors and the streams' counts, for the report.
      const inbox = await jsm.streams.info(mailroom.names.streams.inbox);
      const consumer = await jsm.consumers.info(mailroom.names.streams.inbox, mailroom.names.consumers.inbox).catch(() => undefined);
      const dlq = await jsm.streams.info(mailroom.names.streams.dlq).catch(() => undefined);
      const state = `inbox stream first ${inbox.state.first_seq} last ${inbox.state.last_seq} messages ${inbox.state.messages}; consumer delivered ${consumer?.delivered.stream_seq} ack floor ${consumer?.ack_floor.stream_seq} ack pending ${consumer?.num_ack_pending} redelivered ${consumer?.num_redelivered} pending ${consumer?.num_pending}; dead letters ${dlq?.state.messages}; never heard settled: ${notFinal.filter((c) => !heard.has(c)).length}`;
      throw new Error(`failover: ${notFinal.length} accepted envelopes have no final status though the inbox is empty (acked without one), e.g. ${notFinal.slice(0, 3).map((c) => `${c}: ${seen.get(c)}`).join(', ')}; ${state}`);
    }
    const replies = (await jsm.streams.info(mailroom.names.streams.outbox)).state.messages;
    if (replies !== accepted.size) throw new Error(`failover: the outbox holds ${replies} replies for ${accepted.size} accepted envelopes`);

    const share = (answers.get('202') ?? 0) / count;
    let gap = 0;
    let gapAt = 0;
    for (let i = 1; i < settledAt.length; i++) {
      if (settledAt[i]! - settledAt[i - 1]! > gap) {
        gap = settledAt[i]! - settledAt[i - 1]!;
        gapAt = settledAt[i - 1]! - start;
      }
    }
    return {
      name: `failover: ${count.toLocaleString('en-US')} POST /inbox at ${RATE}/s on a 3-node R3 cluster, inbox leader SIGKILLed and restarted`,
      results: {
        'POSTs answered 202 (share)': share,
        'longest gap between two settled envelopes (ms)': gap,
        'that gap began, after the kill (ms)': gapAt - (killedAt - start),
        'posting took (s)': postedFor,
      },
      notes: [
        `answers: ${JSON.stringify(Object.fromEntries(answers))}; node n${killed + 1} killed at ${((killedAt - start) / 1000).toFixed(1)} s, restarted at ${((restartedAt - start) / 1000).toFixed(1)} s; nats-server ${cluster.version}`,
        `afterwards: ${accepted.size} envelopes final (${finals.size} heard as settled events), ${replies} replies in the outbox (none twice); outbox worker off; every stream and bucket provisioned at R3 by the runtime (nats.replicas: 3)`,
      ],
      summary: [
        { figure: `failover: share of POST /inbox answered 202 while the inbox leader is killed and restarted (${RATE}/s)`, value: share * 100, unit: '%', goal: `≥ ${SHARE_GOAL * 100} %`, met: share >= SHARE_GOAL },
        { figure: 'failover: longest gap between two settled envelopes', value: gap / 1000, unit: 's', goal: `≤ ${GAP_GOAL_MS / 1000} s`, met: gap <= GAP_GOAL_MS },
      ],
    };
  } finally {
    await scope.run();
  }
}

const USAGE = `Usage: npx tsx bench/failover.ts [--quick] [--json] [--help]

Starts a 3-node JetStream cluster on loopback (nats-server on the PATH) and one Mailroom with
every stream and bucket at 3 replicas, posts signed envelopes to POST /inbox at ${RATE}/s, kills
the inbox stream's leader a third of the way in and restarts it two thirds in. Reports the share
of posts answered 202 (goal >= ${SHARE_GOAL * 100} %) and the longest gap between two envelopes reaching a
final status (goal <= ${GAP_GOAL_MS / 1000} s); fails if an accepted envelope has no final status or a reply is stored twice.

  --quick   15 s of posting (default 30 s)
  --json    the result as JSON
  --help    this text
`;

if (isMain(import.meta.url)) {
  if (process.argv.includes('--help') || process.argv.includes('-h')) process.stdout.write(USAGE);
  else await runAsScript(run);
}
