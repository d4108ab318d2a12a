/**
 * Workflows (issue 7): how fast the engine starts workflows and runs their steps, how
 * close to their due time durable delays fire, and what a waiting workflow costs in memory.
 *
 * - starts: `workflows.start` of N workflows (initial step: KV create), 256 at a time;
 * - steps: each gets an event that invokes an activity; the workflow is done when the
 *   activity's result is stored (event step + task + activity + result step), 256 at a time;
 * - delays: M workflows each with a 2 s `after` delay, started in a burst; the lateness of
 *   each firing (its step's time − due time) at p50 / p99 / max. Goal: within 1 s;
 * - memory: the heap of this process with N workflows waiting (after a GC when run with
 *   `--expose-gc`, as `npm run bench` does not; then the heap figure is noisier).
 *
 *   npx tsx bench/workflows.ts [--quick] [--json]
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setup } from 'xstate';
import { spawnNatsServer } from '../src/transport/spawn-nats-server.ts';
import { generateDomainKeys } from '../src/keys/index.ts';
import { parseConfig } from '../src/config/index.ts';
import { startMailroom } from '../src/mailroom/start-mailroom.ts';
import { activity } from '../src/workflows/activity.ts';
import { Cleanup, WINDOW, windowed, isMain, makeTempDir, percentile, progress, removeTempDir, runAsScript, type BenchOptions, type BenchResult } from './support.ts';

const DELAY_MS = 2_000;
const MB = 1024 * 1024;

const job = setup({ actors: { work: activity(async ({ input }: { input: number }) => input * 2) } }).createMachine({
  id: 'job',
  initial: 'waiting',
  states: {
    waiting: { on: { go: 'working' } },
    working: { invoke: { src: 'work', input: 21, onDone: 'done' } },
    done: { type: 'final' },
  },
});

const timed = setup({}).createMachine({ id: 'timed', initial: 'waiting', states: { waiting: { after: { [DELAY_MS]: 'fired' } }, fired: { type: 'final' } } });

const heapMb = () => {
  (globalThis as { gc?: () => void }).gc?.();
  return process.memoryUsage().heapUsed / MB;
};

export async function run(options: BenchOptions): Promise<BenchResult> {
  const count = options.quick ? 1_000 : 10_000;
  const delays = options.quick ? 200 : 1_000;
  const scope = new Cleanup();
  try {
    const dir = await makeTempDir('workflows');
    scope.defer(() => removeTempDir(dir));
    const server = await spawnNatsServer({ args: ['-js', '-sd', join(dir, 'nats'), '-a', '127.0.0.1', '-p', '-1'], readyTimeoutMs: 30_000 });
    scope.defer(() => server.stop());
    const keys = generateDomainKeys('jobs.example', 'pw1');
    await writeFile(join(dir, 'jobs.pem'), keys.privateKeyPem);
    const config = parseConfig(
      { nats: { url: server.url, prefix: 'wfbench' }, domains: [{ name: 'jobs.example', selector: 'pw1', privateKey: join(dir, 'jobs.pem') }] },
      { baseDir: dir, env: {} },
    );
    const mailroom = await startMailroom(config, { http: false, onError: () => undefined, workflows: [{ machine: job }, { machine: timed }] });
    scope.defer(() => mailroom.stop());

    const heapBefore = heapMb();
    let started = performance.now();
    await windowed(count, (i) => mailroom.workflows.start('job', undefined, { id: `job-${i}` }), (d) => progress(options, `workflows: ${d} of ${count} started`));
    const startSeconds = (performance.now() - started) / 1000;
    const heapWaiting = heapMb();

    const done = new Set<string>();
    const allDone = new Promise<void>((resolve) => {
      mailroom.workflows.onChange((change) => {
        if (change.name === 'job' && change.status === 'done') {
          done.add(change.id);
          if (done.size === count) resolve();
        }
      });
    });
    started = performance.now();
    await windowed(count, (i) => mailroom.workflows.send(`job-${i}`, { type: 'go' }), (d) => progress(options, `workflows: ${d} of ${count} sent go (${done.size} done)`));
    await allDone;
    const runSeconds = (performance.now() - started) / 1000;

    progress(options, `workflows: ${delays} delays of ${DELAY_MS} ms`);
    const ids = Array.from({ length: delays }, (_, i) => `timed-${i}`);
    await windowed(delays, (i) => mailroom.workflows.start('timed', undefined, { id: ids[i]! }), () => undefined);
    const lateness: number[] = [];
    const deadline = Date.now() + 60_000;
    for (const id of ids) {
      const info = await mailroom.workflows.waitFor(id, 'done', { timeoutMs: Math.max(1, deadline - Date.now()) });
      lateness.push(info.history.at(-1)!.at - (info.createdAt + DELAY_MS));
    }
    lateness.sort((a, b) => a - b);
    const p50 = percentile(lateness, 50);
    const p99 = percentile(lateness, 99);
    const max = lateness.at(-1)!;
    const perWorkflowKb = ((heapWaiting - heapBefore) * 1024) / count;

    return {
      name: `workflows: ${count.toLocaleString('en-US')} started and run, ${delays.toLocaleString('en-US')} durable delays`,
      results: {
        'workflows started per second': count / startSeconds,
        'workflows run per second (event → activity → result)': count / runSeconds,
        'delay lateness p50 (ms)': p50,
        'delay lateness p99 (ms)': p99,
        'delay lateness max (ms)': max,
        'heap per waiting workflow (KB)': perWorkflowKb,
      },
      notes: [
        `one runtime process, nats-server ${server.version}, ${WINDOW} at a time; a start = initial step + KV create; a run = event step (KV read + revision-checked update + task publish), the activity, and the result step`,
        `lateness = the firing step's stored time − due time, for ${delays} delays started in one burst (goal: within 1 s)`,
        `heap ${heapBefore.toFixed(1)} MB before, ${heapWaiting.toFixed(1)} MB with ${count} waiting${(globalThis as { gc?: unknown }).gc ? ' (after GC)' : ' (no --expose-gc: includes garbage)'}`,
      ],
      summary: [
        { figure: 'workflows: started', value: count / startSeconds, unit: '/s' },
        { figure: 'workflows: run (event → activity → result, 3 steps)', value: count / runSeconds, unit: '/s' },
        { figure: `workflows: durable delay lateness p99 (${delays} at once)`, value: p99, unit: 'ms', goal: '≤ 1000 ms', met: max <= 1_000 },
      ],
    };
  } finally {
    await scope.run();
  }
}

if (isMain(import.meta.url)) await runAsScript(run);
