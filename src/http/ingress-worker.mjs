// The entry of the ingress worker thread when Mailroom runs from its TypeScript sources (see
// ingress.ts; the built package starts the compiled ingress-worker-main.js instead). A plain
// .mjs file, so it starts the same under node, tsx, vitest and the benchmarks' bundles; it
// loads the TypeScript body through tsx's scoped loader (a worker thread does not inherit the
// parent's loader; tsx is a dev dependency of a checkout).
import { tsImport } from 'tsx/esm/api';

await tsImport('./ingress-worker-main.ts', import.meta.url);
