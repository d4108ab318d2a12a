#!/usr/bin/env -S node --max-semi-space-size=4 --compact-on-every-full-gc
// The flags above (read by src/cli/node-flags.ts for whatever else starts a runtime process)
// keep a long-running runtime small: a 4 MB semi-space (V8's default on 64 bits is 16 MB,
// i.e. 32 MB of new space kept committed; 2 MB cost ~12 % CPU per envelope), and compaction
// at every full GC, so old-space pages left sparse by a burst (e.g. 100,000 conversations
// started) are given back. See bench/README.md.
// Runs the TypeScript CLI through tsx's loader, so the package needs no build step.
import { register } from 'tsx/esm/api';
register();
const { main } = await import('../src/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
