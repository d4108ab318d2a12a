/**
 * Recovery: 10,000 envelopes in the inbox, a runtime process starts on them and is killed
 * with SIGKILL while it works; a new process starts at once. Measured: the time from that
 * restart until every envelope is final. "Final" is read from JetStream: the inbox is a
 * work queue and a message is acked only when its actor is final, so the inbox is empty
 * exactly when all are final. Afterwards (untimed) every status in the `<prefix>-status`
 * KV bucket is checked to be final and `replied`, and the outbox to hold one reply each.
 *
 * Messages the killed process had pulled but not acked come back only after the inbox
 * consumer's ack wait: `delivery.ackWait` is set to ACK_WAIT and reported.
 *
 *   npx tsx bench/recovery.ts [--quick] [--json]
 */
import { join } from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { parseConfig } from '../src/config/index.ts';
import { startMailroom } from '../src/mailroom/start-mailroom.ts';
import type { EnvelopeStatus } from '../src/runtime/status-store.ts';
import { connectNats } from '../src/transport/connect.ts';
import { createNames } from '../src/transport/names.ts';
import { spawnNatsServer } from '../src/transport/spawn-nats-server.ts';
import { startRuntimeChild } from './child.ts';
import { makeEnvelopes, RECEIVER, SENDER } from './fixtures.ts';
import { MAILROOM_CONCURRENCY, mailroomInput, prefill } from './pipeline.ts';
import { Cleanup, isMain, makeTempDir, pollUntil, progress, removeTempDir, runAsScript, type BenchOptions, type BenchResult } from './support.ts';

export const ACK_WAIT = '5s';
const GOAL_MS = 10_000;

export async function run(options: BenchOptions): Promise<BenchResult> {
  const count = options.quick ? 2_000 : 10_000;
  const scope = new Cleanup();
  try {
    const dir = await makeTempDir('recovery');
    scope.defer(() => removeTempDir(dir));
    const server = await spawnNatsServer({ args: ['-js', '-sd', join(dir, 'nats'), '-a', '127.0.0.1', '-p', '-1'] });
    scope.defer(() => server.stop());
    const prefix = 'recovery';
    const names = createNames(prefix);
    const input = await mailroomInput(server.url, dir, prefix, { delivery: { concurrency: MAILROOM_CONCURRENCY, ackWait: ACK_WAIT, maxAttempts: 10 } });
    const config = parseConfig(input, { baseDir: dir, env: {} });

    progress(options, `recovery: provisioning and pre-filling ${count} envelopes`);
    await (await startMailroom(config, { http: false, outboxWorker: false })).stop();
    const envelopes = makeEnvelopes(count);
    await prefill(server.url, () => names.inboxSubject(RECEIVER, SENDER), envelopes.payloads, (i) => names.inboxMsgId(SENDER, envelopes.correlations[i]!, envelopes.proofs[i]!.hash, envelopes.proofs[i]!.signature));

    const nc = await connectNats({ url: server.url });
    scope.defer(() => nc.close());
    const jsm = await jetstreamManager(nc);
    const waiting = async () => (await jsm.streams.info(names.streams.inbox)).state.messages;

    progress(options, 'recovery: first runtime process, killed with SIGKILL while it works');
    const spec = { input, dir, http: false, outboxWorker: false };
    const first = await startRuntimeChild(spec, 'first');
    scope.defer(() => first.kill('SIGKILL'));
    await pollUntil(() => first.settled() >= 1, { timeoutMs: 60_000, intervalMs: 1, what: 'the first process to settle an envelope' });
    await first.kill('SIGKILL');
    const inFlight = await waiting();
    const pulledUnacked = (await jsm.consumers.info(names.streams.inbox, names.consumers.inbox)).num_ack_pending;

    progress(options, `recovery: restarted; waiting until all ${count} envelopes are final`);
    const restartedAt = performance.now();
    const second = await startRuntimeChild(spec, 'second');
    scope.defer(() => second.stop());
    const readyAt = performance.now();
    await pollUntil(async () => (await waiting()) === 0, { timeoutMs: 120_000, intervalMs: 20, what: 'the inbox to empty (every envelope final)' });
    const doneAt = performance.now();

    progress(options, 'recovery: checking every status');
    const kv = await new Kvm(nc).open(names.buckets.status);
    const keys: string[] = [];
    for await (const key of await kv.keys()) keys.push(key);
    const states = new Map<string, number>();
    for (let i = 0; i < keys.length; i += 256) {
      const entries = await Promise.all(keys.slice(i, i + 256).map((key) => kv.get(key)));
      for (const entry of entries) {
        if (entry?.operation !== 'PUT') continue;
        const status = entry.json<EnvelopeStatus>();
        const state = status.final ? status.state : `not final (${status.state})`;
        states.set(state, (states.get(state) ?? 0) + 1);
      }
    }
    const replies = (await jsm.streams.info(names.streams.outbox)).state.messages;
    const replied = states.get('replied') ?? 0;
    if (replied !== count) throw new Error(`recovery: ${replied} of ${count} replied; states ${JSON.stringify(Object.fromEntries(states))}`);
    if (replies !== count) throw new Error(`recovery: the outbox holds ${replies} replies for ${count} envelopes`);

    const fromRestart = doneAt - restartedAt;
    const fromReady = doneAt - readyAt;
    return {
      name: `recovery: ${count.toLocaleString('en-US')} envelopes, SIGKILL mid-run, restart → all final`,
      results: {
        'envelopes not final at the kill': inFlight,
        'pulled and unacked at the kill (wait for ack wait)': pulledUnacked,
        'restart → all final (ms)': fromRestart,
        'process ready → all final (ms)': fromReady,
        'process start (ms)': readyAt - restartedAt,
      },
      notes: [
        `delivery.ackWait ${ACK_WAIT} (the messages the killed process held come back after it), delivery.concurrency ${MAILROOM_CONCURRENCY}, outbox worker off; nats-server ${server.version}`,
        `afterwards: ${replied} statuses final and replied, ${replies} replies in the outbox (none twice)`,
      ],
      summary: [
        {
          figure: `recovery: restart after SIGKILL → ${count.toLocaleString('en-US')} in-flight envelopes final (ackWait ${ACK_WAIT}, ${inFlight.toLocaleString('en-US')} not final at the kill)`,
          value: fromRestart / 1000,
          unit: 's',
          goal: `≤ ${GOAL_MS / 1000} s${count === 10_000 ? '' : ' (for 10,000; quick run)'}`,
          ...(count === 10_000 ? { met: fromRestart <= GOAL_MS } : {}),
        },
      ],
    };
  } finally {
    await scope.run();
  }
}

if (isMain(import.meta.url)) await runAsScript(run);
