/** Shared bits of the benchmark programs: argument flags, medians, a progress line, and the table. */
import { pathToFileURL } from 'node:url';

export interface BenchOptions {
  readonly quick: boolean;
  readonly json: boolean;
}

export interface BenchResult {
  readonly name: string;
  /** Figures by label, e.g. `{ 'bare verify (ops/s)': 5100 }`. */
  readonly results: Record<string, number>;
  /** Ratios worth reporting, e.g. `{ 'full / bare': 0.8 }`, with their goal. */
  readonly ratios?: Record<string, { value: number; goal: number }>;
  readonly notes?: readonly string[];
}

export function parseBenchArgs(argv: readonly string[]): BenchOptions {
  return { quick: argv.includes('--quick'), json: argv.includes('--json') };
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** A one-line progress indicator on stderr (nothing when stderr is not a terminal or with --json). */
export function progress(options: BenchOptions, text: string): void {
  if (options.json || !process.stderr.isTTY) return;
  process.stderr.write(`\r\x1b[2K${text}`);
}

export function progressDone(options: BenchOptions): void {
  if (!options.json && process.stderr.isTTY) process.stderr.write('\r\x1b[2K');
}

export function formatResult(result: BenchResult): string {
  const lines = [`### ${result.name}`, '', '| figure | value |', '|---|---|'];
  for (const [label, value] of Object.entries(result.results)) lines.push(`| ${label} | ${Math.round(value).toLocaleString('en-US')} |`);
  for (const [label, { value, goal }] of Object.entries(result.ratios ?? {})) {
    lines.push(`| ${label} | ${value.toFixed(2)} (goal ≥ ${goal}) ${value >= goal ? '✓' : '✗'} |`);
  }
  for (const note of result.notes ?? []) lines.push('', `> ${note}`);
  return lines.join('\n');
}

/** True when the module at `url` is the program node was started with. */
export function isMain(url: string): boolean {
  return process.argv[1] !== undefined && url === pathToFileURL(process.argv[1]).href;
}

/** Runs one benchmark program as a script: prints its table or JSON. */
export async function runAsScript(run: (options: BenchOptions) => Promise<BenchResult>): Promise<void> {
  const options = parseBenchArgs(process.argv.slice(2));
  const result = await run(options);
  progressDone(options);
  process.stdout.write(options.json ? `${JSON.stringify(result)}\n` : `${formatResult(result)}\n`);
}
