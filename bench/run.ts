/**
 * `npm run bench [-- --quick] [-- --json]`: every benchmark program in one run, one table.
 */
import { formatResult, parseBenchArgs, progressDone, type BenchResult } from './support.ts';

const programs: Record<string, () => Promise<{ run: (o: ReturnType<typeof parseBenchArgs>) => Promise<BenchResult> }>> = {
  envelope: () => import('./envelope.ts'),
  pipeline: () => import('./pipeline.ts'),
};

const options = parseBenchArgs(process.argv.slice(2));
const only = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const results: BenchResult[] = [];
for (const [name, load] of Object.entries(programs)) {
  if (only.length && !only.includes(name)) continue;
  const { run } = await load();
  const result = await run(options);
  progressDone(options);
  results.push(result);
  if (!options.json) process.stdout.write(`${formatResult(result)}\n\n`);
}
if (options.json) process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
