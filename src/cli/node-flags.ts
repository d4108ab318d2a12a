import { readFileSync } from 'node:fs';
import { packageRoot } from '../package-root.ts';

const bin = new URL('bin/mailroom.js', packageRoot);

/**
 * The Node.js / V8 flags the runtime process runs with: the ones on the shebang line of
 * `bin/mailroom.js` (`#!/usr/bin/env -S node <flags>`), which is where `mailroom start` gets
 * them. Read from there, so whatever else starts a runtime process (the benchmarks) runs with
 * exactly the same ones. Running `node bin/mailroom.js …` by hand skips the shebang: pass
 * these yourself then.
 */
export function runtimeNodeFlags(): string[] {
  const first = readFileSync(bin, 'utf8').split('\n', 1)[0] ?? '';
  const match = /^#!\/usr\/bin\/env\s+(?:-S\s+)?node((?:\s+--[\w-]+(?:=\S+)?)*)\s*$/.exec(first);
  if (!match) throw new Error(`bin/mailroom.js: the first line is not "#!/usr/bin/env -S node [--flag…]": ${first}`);
  return match[1]!.trim().split(/\s+/).filter(Boolean);
}
