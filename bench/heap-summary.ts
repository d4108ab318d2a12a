/**
 * Summarises a V8 heap snapshot (`v8.writeHeapSnapshot`, or BENCH_HEAP_SNAPSHOT=<dir> with
 * bench/memory.ts) by what holds the memory: self size and count per constructor / type.
 * Given two snapshots, shows what grew from the first to the second.
 *
 *   npx tsx bench/heap-summary.ts [before.heapsnapshot] after.heapsnapshot [--top 25]
 */
import { readFile } from 'node:fs/promises';
import { isMain } from './support.ts';

interface Snapshot {
  readonly snapshot: { readonly meta: { readonly node_fields: readonly string[]; readonly node_types: readonly [readonly string[], ...unknown[]] } };
  readonly nodes: readonly number[];
  readonly strings: readonly string[];
}

type Groups = Map<string, { size: number; count: number }>;

function group(heap: Snapshot): { groups: Groups; total: number; objects: number } {
  const fields = heap.snapshot.meta.node_fields;
  const types = heap.snapshot.meta.node_types[0];
  const width = fields.length;
  const typeAt = fields.indexOf('type');
  const nameAt = fields.indexOf('name');
  const sizeAt = fields.indexOf('self_size');
  const groups = new Map<string, { size: number; count: number }>();
  let total = 0;
  for (let i = 0; i < heap.nodes.length; i += width) {
    const type = types[heap.nodes[i + typeAt]!] ?? '?';
    const size = heap.nodes[i + sizeAt]!;
    let name = heap.strings[heap.nodes[i + nameAt]!] ?? '';
    if (type === 'string' || type === 'concatenated string' || type === 'sliced string') name = '(strings)';
    else if (type === 'code') name = '(compiled code)';
    else if (name.length > 60) name = `${name.slice(0, 57)}…`;
    const key = `${type}: ${name}`;
    const g = groups.get(key) ?? { size: 0, count: 0 };
    g.size += size;
    g.count++;
    groups.set(key, g);
    total += size;
  }
  return { groups, total, objects: heap.nodes.length / width };
}

/** The heap by constructor / type; with `before`, what grew since it. */
export function summariseHeap(heap: Snapshot, top = 25, before?: Snapshot): string {
  const { groups, total, objects } = group(heap);
  if (before) {
    const base = group(before);
    for (const [key, g] of groups) {
      const b = base.groups.get(key);
      if (b) groups.set(key, { size: g.size - b.size, count: g.count - b.count });
    }
  }
  const rows = [...groups.entries()].sort((a, b) => b[1].size - a[1].size).slice(0, top);
  return [
    `${(total / 1024 / 1024).toFixed(1)} MB in ${objects.toLocaleString('en-US')} objects${before ? `; grown since the first snapshot: ${((total - group(before).total) / 1024 / 1024).toFixed(1)} MB` : ''}`,
    '',
    '| type: constructor / name | MB | count |',
    '|---|---:|---:|',
    ...rows.map(([key, g]) => `| ${key.replace(/\|/g, '\\|')} | ${(g.size / 1024 / 1024).toFixed(1)} | ${g.count.toLocaleString('en-US')} |`),
  ].join('\n');
}

if (isMain(import.meta.url)) {
  const args = process.argv.slice(2);
  const topAt = args.indexOf('--top');
  const files = args.filter((a, i) => !a.startsWith('--') && (topAt < 0 || i !== topAt + 1));
  if (files.length === 0 || files.length > 2) {
    process.stderr.write('usage: tsx bench/heap-summary.ts [before.heapsnapshot] <after.heapsnapshot> [--top N]\n');
    process.exit(2);
  }
  const [first, second] = await Promise.all(files.map(async (f) => JSON.parse(await readFile(f, 'utf8')) as Snapshot));
  process.stdout.write(`${second ? summariseHeap(second, topAt >= 0 ? Number(args[topAt + 1]) : 25, first) : summariseHeap(first!, topAt >= 0 ? Number(args[topAt + 1]) : 25)}\n`);
}
