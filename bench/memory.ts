/**
 * Memory: the resident set of a runtime process with 100,000 conversations waiting for
 * their replies (issue 4: a waiting conversation is passivated to KV, not held). The
 * runtime runs alone in a child process (`runtime-child.ts`) that starts the conversations
 * itself with `startConversation` / `request` (to a remote domain, with the outbox worker
 * off, so no reply ever comes and every conversation keeps waiting; timeout 1 h), forces a
 * garbage collection and reports `process.memoryUsage()`. The promises the caller holds
 * for the outcomes stay reachable, as they would in an application.
 *
 * Where the runtime has no `request` yet, the figure is "not yet available (issue 4)".
 *
 *   npx tsx bench/memory.ts [--quick] [--json]
 */
import { join } from 'node:path';
import { spawnNatsServer } from '../src/transport/spawn-nats-server.ts';
import { startRuntimeChild } from './child.ts';
import { mailroomInput } from './pipeline.ts';
import { Cleanup, isMain, makeTempDir, progress, removeTempDir, runAsScript, type BenchOptions, type BenchResult } from './support.ts';
import { RECEIVER } from './fixtures.ts';
import { runtimeNodeFlags } from '../src/cli/node-flags.ts';

const GOAL_MB = 150;
const MB = 1024 * 1024;

export async function run(options: BenchOptions): Promise<BenchResult> {
  const count = options.quick ? 10_000 : 100_000;
  const scope = new Cleanup();
  try {
    const dir = await makeTempDir('memory');
    scope.defer(() => removeTempDir(dir));
    const server = await spawnNatsServer({ args: ['-js', '-sd', join(dir, 'nats'), '-a', '127.0.0.1', '-p', '-1'], readyTimeoutMs: 30_000 });
    scope.defer(() => server.stop());
    const input = await mailroomInput(server.url, dir, 'memory');
    progress(options, `memory: starting ${count.toLocaleString('en-US')} conversations`);
    const child = await startRuntimeChild(
      { input, dir, http: false, outboxWorker: false, conversations: { count, from: RECEIVER, to: 'far.example', timeoutMs: 60 * 60_000, window: 64 } },
      'memory',
      { exposeGc: true },
    );
    scope.defer(() => child.stop());
    const first = await child.line(/^(?:unavailable (.*)|idle-rss (\d+) heap (\d+))/, 60_000);
    const figure = `memory: RSS of the runtime process with ${count.toLocaleString('en-US')} conversations waiting`;
    const goal = `< ${GOAL_MB} MB${count === 100_000 ? '' : ' (for 100,000; quick run)'}`;
    if (first[1] !== undefined) {
      return {
        name: 'memory: waiting conversations',
        results: {},
        notes: [`not yet available (issue 4): ${first[1]}`],
        summary: [{ figure, value: 'not yet available (issue 4)', unit: '', goal }],
      };
    }
    const idleRss = Number(first[2]);
    const started = performance.now();
    const ticker = setInterval(() => progress(options, `memory: ${child.latest(/^conversations (\d+)/)?.[1] ?? 0} of ${count.toLocaleString('en-US')} conversations started`), 1000);
    let done: RegExpExecArray;
    try {
      done = await child.line(/^rss (\d+) heap (\d+) external (\d+) arrayBuffers (\d+) heapTotal (\d+)/, 30 * 60_000);
    } finally {
      clearInterval(ticker);
    }
    const seconds = (performance.now() - started) / 1000;
    const rss = Number(done[1]);
    const heap = Number(done[2]);
    return {
      name: `memory: ${count.toLocaleString('en-US')} conversations waiting`,
      results: {
        'RSS idle, before (MB)': idleRss / MB,
        'RSS with the conversations waiting (MB)': rss / MB,
        'of it right after the forced GCs, before freed pages went back (MB)': Number(child.latest(/^rss-at-gc (\d+)/)?.[1] ?? NaN) / MB,
        'JS heap used (MB)': heap / MB,
        'JS heap committed (MB)': Number(done[5]) / MB,
        'external memory (MB)': Number(done[3]) / MB,
        'of it ArrayBuffers (MB)': Number(done[4]) / MB,
        'RSS outside the committed JS heap and external memory (MB)': (rss - Number(done[5]) - Number(done[3])) / MB,
        'bytes of RSS per conversation': (rss - idleRss) / count,
        'conversations started per second': count / seconds,
      },
      notes: [`conversations to a remote domain with the outbox worker off (no reply comes), timeout 1 h, started 64 at a time; after three forced GCs, RSS settled (it stops dropping within 3 s); the runtime runs with the Node flags of \`mailroom start\` (${process.env.BENCH_NODE_FLAGS === '0' ? 'left out: BENCH_NODE_FLAGS=0' : runtimeNodeFlags().join(' ')}); nats-server ${server.version}`],
      summary: [{ figure, value: rss / MB, unit: 'MB', goal, ...(count === 100_000 ? { met: rss / MB < GOAL_MB } : {}) }],
    };
  } finally {
    await scope.run();
  }
}

if (isMain(import.meta.url)) await runAsScript(run);
