/**
 * Summarises V8 CPU profiles (`node --cpu-prof`) by where the self time went: a package
 * in node_modules, a folder of this repository (src/runtime, machines, …), Node's own
 * internals, or V8 (GC, idle, program). The top functions follow.
 *
 *   node --cpu-prof --cpu-prof-dir=prof --import tsx bench/pipeline.ts --quick
 *   npx tsx bench/profile-summary.ts prof/*.cpuprofile [--top 25]
 */
import { readFile } from 'node:fs/promises';
import { isMain } from './support.ts';

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
  readonly children?: readonly number[];
}
interface Profile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
  readonly startTime: number;
  readonly endTime: number;
}

/** Where a script URL belongs: `bullmq`, `@nats-io/jetstream`, `src/runtime`, `node:internal`, … */
export function packageOf(url: string, functionName: string): string {
  if (!url) {
    if (functionName === '(garbage collector)') return '(gc)';
    if (functionName === '(idle)') return '(idle)';
    if (functionName === '(program)') return '(program)';
    return '(native)';
  }
  if (url.startsWith('node:')) return url.startsWith('node:internal') ? 'node:internal' : url;
  const path = decodeURIComponent(url.replace(/^file:\/\//, ''));
  const nm = path.lastIndexOf('/node_modules/');
  if (nm >= 0) {
    const parts = path.slice(nm + '/node_modules/'.length).split('/');
    return parts[0]!.startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0]!;
  }
  const repo = /\/(src\/[^/]+|machines|bench|test)\//.exec(path);
  return repo ? repo[1]! : path;
}

/** A repository file by its path (tsx's output keeps no useful line numbers), a package file by package:line. */
function whereIn(url: string, pkg: string): string {
  if (!url || url.startsWith('node:')) return pkg;
  const path = decodeURIComponent(url.replace(/^file:\/\//, ''));
  if (path.includes('/node_modules/')) return `${pkg} ${path.split('/').pop()}`;
  const repo = /\/((?:src|machines|bench|test)\/.*)$/.exec(path);
  return repo ? repo[1]! : path;
}

export function summarise(profiles: readonly Profile[], top = 20): string {
  const selfByPackage = new Map<string, number>();
  const selfByFunction = new Map<string, number>();
  let total = 0;
  for (const profile of profiles) {
    const byId = new Map(profile.nodes.map((n) => [n.id, n]));
    for (let i = 0; i < profile.samples.length; i++) {
      const node = byId.get(profile.samples[i]!);
      const dt = profile.timeDeltas[i + 1] ?? 0;
      if (!node) continue;
      const pkg = packageOf(node.callFrame.url, node.callFrame.functionName);
      total += dt;
      selfByPackage.set(pkg, (selfByPackage.get(pkg) ?? 0) + dt);
      const fn = `${node.callFrame.functionName || '(anonymous)'} (${whereIn(node.callFrame.url, pkg)})`;
      selfByFunction.set(fn, (selfByFunction.get(fn) ?? 0) + dt);
    }
  }
  const busy = total - (selfByPackage.get('(idle)') ?? 0);
  const rows = (map: Map<string, number>, n: number) =>
    [...map.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([name, us]) => `| ${name} | ${(us / 1000).toFixed(0)} | ${((100 * us) / total).toFixed(1)} % | ${name === '(idle)' ? '' : `${((100 * us) / busy).toFixed(1)} %`} |`);
  return [
    `${(total / 1e6).toFixed(1)} s sampled, ${(busy / 1e6).toFixed(1)} s busy`,
    '',
    '| self time by package | ms | of all | of busy |',
    '|---|---:|---:|---:|',
    ...rows(selfByPackage, top),
    '',
    '| self time by function | ms | of all | of busy |',
    '|---|---:|---:|---:|',
    ...rows(selfByFunction, top),
  ].join('\n');
}

const isMainModule = isMain(import.meta.url);
if (isMainModule) {
  const args = process.argv.slice(2);
  const topAt = args.indexOf('--top');
  const top = topAt >= 0 ? Number(args[topAt + 1]) : 20;
  const files = args.filter((a, i) => !a.startsWith('--') && (topAt < 0 || i !== topAt + 1));
  if (files.length === 0) {
    process.stderr.write('usage: tsx bench/profile-summary.ts <file.cpuprofile>… [--top N]\n');
    process.exit(2);
  }
  const profiles = await Promise.all(files.map(async (f) => JSON.parse(await readFile(f, 'utf8')) as Profile));
  process.stdout.write(`${summarise(profiles, top)}\n`);
}
