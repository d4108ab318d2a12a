/**
 * `npm run bench [-- --quick] [-- --json] [-- <program> …]`: every benchmark program in one
 * run, each program's table, then one summary table with every figure, its ratio to its
 * baseline and its goal. Progress goes to stderr; the tables (or JSON) to stdout.
 *
 * Programs: envelope, hostile-input, crypto, pipeline (baseline, mailroom, bullmq, rabbitmq, crypto pool),
 * observability-cost, ingress, recovery, failover, memory, conversations, workflows, cluster, package. Name some to run only those.
 */
import { execFile } from 'node:child_process';
import { availableParallelism, cpus, totalmem } from 'node:os';
import { promisify } from 'node:util';
import { formatResult, formatSummary, installInterruptCleanup, parseBenchArgs, progressDone, type BenchOptions, type BenchResult, type SummaryRow } from './support.ts';

type Program = () => Promise<{ run: (o: BenchOptions) => Promise<BenchResult> }>;

const programs: Record<string, Program> = {
  envelope: () => import('./envelope.ts'),
  'hostile-input': () => import('./hostile-input.ts'),
  crypto: () => import('./crypto.ts'),
  pipeline: () => import('./pipeline.ts'),
  'observability-cost': () => import('./observability-cost.ts'),
  ingress: () => import('./ingress.ts'),
  recovery: () => import('./recovery.ts'),
  failover: () => import('./failover.ts'),
  memory: () => import('./memory.ts'),
  conversations: () => import('./conversations.ts'),
  workflows: () => import('./workflows.ts'),
  cluster: () => import('./cluster.ts'),
  package: () => import('./package.ts'),
};

async function versionOf(command: string, args: string[], pattern: RegExp): Promise<string> {
  try {
    const { stdout } = await promisify(execFile)(command, args, { timeout: 5_000 });
    return pattern.exec(stdout)?.[1] ?? stdout.trim();
  } catch {
    return 'absent';
  }
}

async function machine(): Promise<Record<string, string>> {
  return {
    cores: `${availableParallelism()} (${cpus()[0]?.model.trim() ?? 'unknown'})`,
    memory: `${(totalmem() / 1024 ** 3).toFixed(1)} GiB`,
    node: process.version,
    'nats-server': await versionOf('nats-server', ['--version'], /\bv(\d\S*)/),
    'redis-server': await versionOf('redis-server', ['--version'], /v=(\S+)/),
  };
}

const options = parseBenchArgs(process.argv.slice(2));
installInterruptCleanup();
const only = process.argv.slice(2).filter((a) => !a.startsWith('--'));
for (const name of only) if (!(name in programs)) throw new Error(`unknown benchmark ${name}: choose from ${Object.keys(programs).join(', ')}`);
const info = await machine();
const started = Date.now();
const results: BenchResult[] = [];
const summary: SummaryRow[] = [];
if (!options.json) {
  process.stdout.write(`## Mailroom benchmarks${options.quick ? ' (--quick)' : ''}\n\n`);
  process.stdout.write(`${Object.entries(info).map(([k, v]) => `${k}: ${v}`).join(' · ')}\n\n`);
}
for (const [name, load] of Object.entries(programs)) {
  if (only.length && !only.includes(name)) continue;
  const { run } = await load();
  let result: BenchResult;
  try {
    result = await run(options);
  } catch (error) {
    // One program failing does not lose the others' figures; it shows in the table and the exit code.
    process.exitCode = 1;
    const message = error instanceof Error ? error.message : String(error);
    result = { name, results: {}, notes: [`failed: ${message}`], summary: [{ figure: `${name}`, value: `failed: ${message.slice(0, 200)}`, unit: '' }] };
  }
  progressDone(options);
  results.push(result);
  summary.push(...(result.summary ?? []));
  if (!options.json) process.stdout.write(`${formatResult(result)}\n\n`);
}
const minutes = ((Date.now() - started) / 60_000).toFixed(1);
if (options.json) process.stdout.write(`${JSON.stringify({ machine: info, quick: options.quick, minutes: Number(minutes), summary, results }, null, 2)}\n`);
else process.stdout.write(`## Summary (${minutes} min)\n\n${formatSummary(summary)}\n`);
