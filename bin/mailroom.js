#!/usr/bin/env -S node --max-semi-space-size=4 --compact-on-every-full-gc
// The flags above (read by src/cli/node-flags.ts for whatever else starts a runtime process)
// keep a long-running runtime small: a 4 MB semi-space (V8's default on 64 bits is 16 MB,
// i.e. 32 MB of new space kept committed; 2 MB cost ~12 % CPU per envelope), and compaction
// at every full GC, so old-space pages left sparse by a burst (e.g. 100,000 conversations
// started) are given back. See bench/README.md.
//
// Which code runs: a development checkout (src/ is next to bin/) runs the TypeScript sources
// through tsx, so a change is live without a build and the tests exercise the sources; the
// published package (no src/) runs the built JavaScript in dist/ on plain Node.
// MAILROOM_CLI=dist runs the build in a checkout too (`npm run build` first; the benchmarks do).
import { existsSync } from 'node:fs';

const sources = new URL('../src/cli/main.ts', import.meta.url);
const built = new URL('../dist/src/cli/main.js', import.meta.url);
let main;
if (process.env.MAILROOM_CLI !== 'dist' && existsSync(sources)) {
  const { register } = await import('tsx/esm/api');
  register();
  ({ main } = await import(sources.href));
} else if (existsSync(built)) {
  ({ main } = await import(built.href));
} else {
  process.stderr.write('error: mailroom is not built (no dist/src/cli/main.js)\nhint: run `npm run build`, or unset MAILROOM_CLI to run the sources\n');
  process.exit(2);
}
process.exitCode = await main(process.argv.slice(2));
