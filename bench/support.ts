/**
 * Shared bits of the benchmark programs: argument flags, medians and percentiles, a
 * progress line, the tables, polling with a deadline, free ports, and cleanup of child
 * processes and temporary directories that also runs when the bench is interrupted.
 */
import type { ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

export interface BenchOptions {
  readonly quick: boolean;
  readonly json: boolean;
}

/** One line of the summary table: a figure, and its ratio to the baseline it is compared with. */
export interface SummaryRow {
  readonly figure: string;
  /** A number, or a text such as `skipped: …` / `not yet available (issue 4)`. */
  readonly value: number | string;
  readonly unit: string;
  /** The figure divided by its baseline's (same run). */
  readonly ratio?: number;
  /** What the ratio (or the value) is compared with, e.g. `baseline` or `bare publish p99`. */
  readonly versus?: string;
  /** The goal, e.g. `≥ 0.9 × baseline`; `met` says whether this run met it. */
  readonly goal?: string;
  readonly met?: boolean;
}

export interface BenchResult {
  readonly name: string;
  /** Figures by label, e.g. `{ 'bare verify (ops/s)': 5100 }`. */
  readonly results: Record<string, number>;
  /** Ratios worth reporting, e.g. `{ 'full / bare': 0.8 }`, with their goal. */
  readonly ratios?: Record<string, { value: number; goal: number }>;
  readonly notes?: readonly string[];
  /** The rows this program adds to the summary of `npm run bench`. */
  readonly summary?: readonly SummaryRow[];
}

export function parseBenchArgs(argv: readonly string[]): BenchOptions {
  return { quick: argv.includes('--quick'), json: argv.includes('--json') };
}

let lastCpuUs = Number.NaN;

/**
 * Starts measuring the CPU time (user + system, every thread of this process) of one timed
 * window; call the returned function when the window ends. A contender's CPU per message
 * is a steadier figure than its rate on a machine that other work shares: it counts the
 * work, not the waiting. Read it with {@link takeCpuWindowUs}.
 */
export function cpuWindow(): () => void {
  const start = process.cpuUsage();
  const brokerStart = brokerCpuUs();
  return () => {
    const used = process.cpuUsage(start);
    lastCpuUs = used.user + used.system;
    const brokerEnd = brokerCpuUs();
    lastBrokerCpuUs = brokerStart === undefined || brokerEnd === undefined ? Number.NaN : brokerEnd - brokerStart;
  };
}

/** The CPU time (µs) of the last window that {@link cpuWindow} closed, once; NaN when none closed since. */
export function takeCpuWindowUs(): number {
  const value = lastCpuUs;
  lastCpuUs = Number.NaN;
  return value;
}

let brokerPids: readonly number[] = [];
let lastBrokerCpuUs = Number.NaN;
/** Linux's USER_HZ: /proc reports CPU time in these ticks (100 on every common kernel build). */
const CLOCK_TICKS_PER_S = 100;

/**
 * The broker processes (nats-server, redis-server, RabbitMQ's beam.smp) whose CPU the next
 * {@link cpuWindow}s also measure: the work a contender hands to its broker is work too, and
 * differs by broker (BullMQ's Lua scripts in Redis, Mailroom's KV writes in nats-server).
 */
export function measureBrokers(pids: readonly number[]): void {
  brokerPids = pids.filter((pid) => pid > 0);
}

/** The CPU time (µs) the broker processes used in the last window {@link cpuWindow} closed, once; NaN when unknown. */
export function takeBrokerCpuWindowUs(): number {
  const value = lastBrokerCpuUs;
  lastBrokerCpuUs = Number.NaN;
  return value;
}

/** utime + stime of a process (all its threads) from /proc, in µs; undefined off Linux or when it is gone. */
export function processCpuUs(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: fields are counted after its last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]);
    return Number.isFinite(ticks) ? (ticks * 1e6) / CLOCK_TICKS_PER_S : undefined;
  } catch {
    return undefined;
  }
}

function brokerCpuUs(): number | undefined {
  if (brokerPids.length === 0) return undefined;
  let total = 0;
  for (const pid of brokerPids) {
    const used = processCpuUs(pid);
    if (used === undefined) return undefined;
    total += used;
  }
  return total;
}

/** The pid of the one process here whose command name (`/proc/<pid>/comm`) is `command`; undefined when none or several run. */
export function findProcess(command: string): number | undefined {
  let found: number[] = [];
  try {
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      try {
        if (readFileSync(`/proc/${entry}/comm`, 'utf8').trim() === command) found.push(Number(entry));
      } catch {
        // gone meanwhile
      }
    }
  } catch {
    found = [];
  }
  return found.length === 1 ? found[0] : undefined;
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** The `p`-th percentile (0–100) of ascending `sorted` values, nearest rank. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!;
}

/** A one-line progress indicator on stderr (nothing with --json). */
export function progress(options: Pick<BenchOptions, 'json'>, text: string): void {
  if (options.json) return;
  if (process.stderr.isTTY) process.stderr.write(`\r\x1b[2K${text}`);
  else process.stderr.write(`${text}\n`);
}

export function progressDone(options: Pick<BenchOptions, 'json'>): void {
  if (!options.json && process.stderr.isTTY) process.stderr.write('\r\x1b[2K');
}

/** A number for a table: thousands separated, small values with decimals. */
export function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return 'n/a';
  if (Math.abs(value) >= 100) return Math.round(value).toLocaleString('en-US');
  if (Math.abs(value) >= 10) return value.toFixed(1);
  return value.toFixed(2);
}

export function formatResult(result: BenchResult): string {
  const lines = [`### ${result.name}`, '', '| figure | value |', '|---|---|'];
  for (const [label, value] of Object.entries(result.results)) lines.push(`| ${label} | ${formatNumber(value)} |`);
  for (const [label, { value, goal }] of Object.entries(result.ratios ?? {})) {
    lines.push(`| ${label} | ${value.toFixed(2)} (goal ≥ ${goal}) ${value >= goal ? '✓' : '✗'} |`);
  }
  for (const note of result.notes ?? []) lines.push('', `> ${note}`);
  return lines.join('\n');
}

/** The summary table of `npm run bench`: every figure with its ratio to its baseline and its goal. */
export function formatSummary(rows: readonly SummaryRow[]): string {
  const lines = ['| figure | value | ratio | vs | goal | met |', '|---|---:|---:|---|---|:---:|'];
  for (const row of rows) {
    const value = typeof row.value === 'number' ? `${formatNumber(row.value)} ${row.unit}`.trim() : row.value;
    const ratio = row.ratio === undefined || !Number.isFinite(row.ratio) ? '' : `${row.ratio.toFixed(2)}×`;
    const met = row.met === undefined ? '' : row.met ? '✓' : '✗';
    lines.push(`| ${row.figure} | ${value} | ${ratio} | ${row.versus ?? ''} | ${row.goal ?? ''} | ${met} |`);
  }
  return lines.join('\n');
}

/** True when the module at `url` is the program node was started with. */
export function isMain(url: string): boolean {
  return process.argv[1] !== undefined && url === pathToFileURL(process.argv[1]).href;
}

/** Runs one benchmark program as a script: prints its table or JSON; `--help` prints `usage` (or the generic usage) and runs nothing. */
export async function runAsScript(run: (options: BenchOptions) => Promise<BenchResult>, usage?: string): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv.includes('--help') || argv.includes('-h')) {
    const script = process.argv[1] ? process.argv[1].replace(/^.*\/bench\//, 'bench/') : 'bench/<program>.ts';
    process.stdout.write(usage ?? `usage: npx tsx ${script} [--quick] [--json]\n\n  --quick  short rounds and smaller counts\n  --json   one JSON document on stdout (progress stays on stderr)\n`);
    return;
  }
  const options = parseBenchArgs(argv);
  installInterruptCleanup();
  const result = await run(options);
  progressDone(options);
  process.stdout.write(options.json ? `${JSON.stringify(result)}\n` : `${formatResult(result)}${result.summary ? `\n\n${formatSummary(result.summary)}` : ''}\n`);
}

/**
 * Polls until `probe` returns a value other than `undefined`/`false`, or the deadline
 * passes (then throws with `what`). Errors thrown by `probe` count as "not yet".
 */
export async function pollUntil<T>(probe: () => Promise<T | undefined | false> | T | undefined | false, options: { timeoutMs: number; intervalMs?: number; what: string }): Promise<T> {
  const deadline = Date.now() + options.timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${options.timeoutMs} ms waiting for ${options.what}${last instanceof Error ? `: ${last.message}` : ''}`);
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 50));
  }
}

/** A free TCP port on loopback (closed again before it is returned; good enough on one machine). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

// ---- cleanup that survives errors and Ctrl-C ----------------------------------------

const liveChildren = new Set<ChildProcess>();
const liveDirs = new Set<string>();
let exitHook = false;

function cleanupNow(): void {
  for (const child of liveChildren) {
    try {
      child.kill('SIGKILL');
    } catch (_) {
      // exiting anyway
    }
  }
  for (const dir of liveDirs) rmSync(dir, { recursive: true, force: true });
}

function installExitHook(): void {
  if (exitHook) return;
  exitHook = true;
  process.on('exit', cleanupNow);
}

/** Ctrl-C or SIGTERM: kill the children, remove the temp dirs, exit. */
export function installInterruptCleanup(): void {
  installExitHook();
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    if (process.listenerCount(signal) === 0) process.once(signal, () => process.exit(130));
  }
}

/** Remembers a child process so it is killed when the bench exits, however it exits. */
export function trackChild(child: ChildProcess): ChildProcess {
  installExitHook();
  liveChildren.add(child);
  child.once('exit', () => liveChildren.delete(child));
  return child;
}

/** A temporary directory, removed by `removeTempDir` or when the bench exits. */
export async function makeTempDir(label: string): Promise<string> {
  installExitHook();
  const dir = await mkdtemp(join(tmpdir(), `mailroom-bench-${label}-`));
  liveDirs.add(dir);
  return dir;
}

export async function removeTempDir(dir: string): Promise<void> {
  liveDirs.delete(dir);
  await rm(dir, { recursive: true, force: true });
}

/**
 * A stack of cleanups run in reverse order, each once, errors collected and rethrown
 * after all ran: `const scope = new Cleanup(); try { … scope.defer(…) … } finally { await scope.run(); }`.
 */
export class Cleanup {
  private readonly steps: (() => Promise<unknown> | unknown)[] = [];

  defer(step: () => Promise<unknown> | unknown): void {
    this.steps.push(step);
  }

  async run(): Promise<void> {
    const errors: unknown[] = [];
    while (this.steps.length > 0) {
      const step = this.steps.pop()!;
      try {
        await step();
      } catch (error) {
        errors.push(error);
      }
    }
    if (errors.length === 1) throw errors[0];
    if (errors.length > 1) throw new AggregateError(errors, 'several cleanups failed');
  }
}

/** Milliseconds, for notes. */
export function ms(value: number): string {
  return `${value < 10 ? value.toFixed(2) : Math.round(value)} ms`;
}

/** How many operations {@link windowed} keeps in flight. */
export const WINDOW = 256;

/** Runs `work(i)` for every i < count, at most {@link WINDOW} at once; `tick(done)` every `every` completions. */
export async function windowed(count: number, work: (i: number) => Promise<unknown>, tick: (done: number) => void, every = 1000): Promise<void> {
  let next = 0;
  let done = 0;
  await Promise.all(
    Array.from({ length: WINDOW }, async () => {
      while (next < count) {
        await work(next++);
        if (++done % every === 0) tick(done);
      }
    }),
  );
}
