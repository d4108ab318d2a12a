// The entry of the ingress worker thread (see ingress.ts). A plain .mjs file, so it starts the
// same under node, tsx, vitest and the benchmarks' bundles; it loads the TypeScript body
// through tsx's scoped loader (a worker thread does not inherit the parent's loader).
import { tsImport } from 'tsx/esm/api';

await tsImport('./ingress-worker-main.ts', import.meta.url);
