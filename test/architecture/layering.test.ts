/**
 * The folder layering of `.dependency-cruiser.cjs`, checked from the test suite too (`npm run
 * lint` runs the same check): no module cycles, no import from a lower layer to a higher one
 * (type-only imports count), no exception to a layer's rule, and no folder of `src/` left out
 * of the layering. Also: the ingress worker thread loads neither XState nor the envelope runner.
 */
import { execFile } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../', import.meta.url));
const require = createRequire(import.meta.url);
const config = require(`${root}.dependency-cruiser.cjs`) as { forbidden: { name: string; from: { path?: string; pathNot?: string } }[] };
const bin = `${root}node_modules/dependency-cruiser/bin/dependency-cruise.mjs`;

interface Violation {
  readonly from: string;
  readonly to: string;
  readonly rule: { readonly name: string };
  readonly cycle?: readonly unknown[];
}

describe('layering', () => {
  it('has no cycles and no upward imports between the folders of src/ and machines/', async () => {
    const { stdout } = await promisify(execFile)(process.execPath, [bin, 'src', 'machines', '--config', '.dependency-cruiser.cjs', '--output-type', 'json'], { cwd: root, maxBuffer: 64 * 1024 * 1024 });
    const result = JSON.parse(stdout) as { summary: { violations: Violation[]; totalCruised: number } };
    expect(result.summary.totalCruised).toBeGreaterThan(100);
    expect(result.summary.violations.map((v) => `${v.rule.name}: ${v.from} → ${v.to}`)).toEqual([]);
  }, 120_000);

  it('places every folder and top-level module of src/ in a layer', () => {
    const layers = config.forbidden.filter((rule) => rule.name.endsWith('-imports-upward')).map((rule) => new RegExp(rule.from.path!));
    // The last layer (the entries) has no rule of its own: nothing is above it.
    const entries = /^src\/(cli\/|testing\/|index[.]ts$)/;
    const paths = readdirSync(`${root}src`, { withFileTypes: true }).map((entry) => (entry.isDirectory() ? `src/${entry.name}/x.ts` : `src/${entry.name}`));
    const unplaced = paths.filter((path) => !entries.test(path) && !layers.some((layer) => layer.test(path)));
    expect(unplaced).toEqual([]);
  });

  it('makes no exception to a layer rule', () => {
    const excepted = config.forbidden.filter((rule) => rule.from.pathNot !== undefined).map((rule) => `${rule.name}: ${rule.from.pathNot}`);
    expect(excepted).toEqual([]);
  });

  // Type-only imports count here too: the worker's import graph stays free of them altogether.
  it('keeps the ingress worker thread light: no XState, no envelope runner', async () => {
    const { stdout } = await promisify(execFile)(process.execPath, [bin, 'src/http/ingress-worker-main.ts', '--config', '.dependency-cruiser.cjs', '--output-type', 'json'], { cwd: root, maxBuffer: 64 * 1024 * 1024 });
    const result = JSON.parse(stdout) as { modules: { source: string }[] };
    expect(result.modules.length).toBeGreaterThan(10);
    // machines/retry-policy.ts is plain arithmetic with no imports: the inbox's store retries use it.
    const heavy = result.modules.map((m) => m.source).filter((source) => /(^|\/)xstate\/|^machines\/(?!retry-policy[.]ts$)|^src\/runtime\/envelope-/.test(source));
    expect(heavy).toEqual([]);
  }, 120_000);
});
