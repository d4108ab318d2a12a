/**
 * How long the parser takes to refuse hostile input (the timing half of
 * `test/envelope/hostile-input.test.ts`, which asserts only the named reasons, so a busy
 * machine cannot fail it). Each case is decoded several times; the median is compared with
 * its goal: a refusal by size before any decoding, everything else well under a second.
 *
 *   npx tsx bench/hostile-input.ts [--quick] [--json]
 */
import { decodeEnvelope } from '../src/envelope/index.ts';
import { isMain, median, progress, runAsScript, type BenchOptions, type BenchResult, type SummaryRow } from './support.ts';

interface Case {
  readonly name: string;
  readonly input: () => string | Uint8Array;
  readonly goalMs: number;
}

const cases: readonly Case[] = [
  { name: '10 MB input (too-large)', input: () => '['.repeat(10 * 1024 * 1024), goalMs: 50 },
  { name: '100k nested brackets (too-deep)', input: () => '['.repeat(100_000) + ']'.repeat(100_000), goalMs: 500 },
  {
    name: 'YAML billion laughs (yaml-expansion)',
    input: () => {
      let text = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n';
      let previous = 'a';
      for (const name of 'bcdefghi') {
        text += `${name}: &${name} [${Array(9).fill(`*${previous}`).join(',')}]\n`;
        previous = name;
      }
      return text;
    },
    goalMs: 500,
  },
  { name: '49 aliases to a 100 KB anchor (yaml-expansion)', input: () => `Header: {}\nBody:\n  big: &big "${'x'.repeat(100 * 1024)}"\n  refs: [${Array(49).fill('*big').join(', ')}]\n`, goalMs: 500 },
  { name: 'flat YAML map of 20,000 keys (linear)', input: () => `Header: {}\nBody:\n${Array.from({ length: 20_000 }, (_, i) => `  k${i}: v`).join('\n')}\n`, goalMs: 2000 },
];

export async function run(options: Pick<BenchOptions, 'quick'> & Partial<BenchOptions>): Promise<BenchResult> {
  const rounds = options.quick ? 3 : 7;
  const results: Record<string, number> = {};
  const summary: SummaryRow[] = [];
  for (const c of cases) {
    progress({ json: options.json ?? false }, `hostile input: ${c.name}`);
    const input = c.input();
    const times: number[] = [];
    for (let r = 0; r < rounds; r++) {
      const started = performance.now();
      const result = decodeEnvelope(input);
      times.push(performance.now() - started);
      if (result.ok) throw new Error(`${c.name} was accepted`);
    }
    const ms = median(times);
    results[`${c.name} (ms)`] = ms;
    summary.push({ figure: `refuse ${c.name}`, value: ms, unit: 'ms', goal: `≤ ${c.goalMs} ms`, met: ms <= c.goalMs });
  }
  return { name: 'hostile-input', results, notes: [`medians of ${rounds} decodes each, one core`], summary };
}

if (isMain(import.meta.url)) await runAsScript(run);
