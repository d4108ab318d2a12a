import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

/** `mailroom`, `mailroom/testing`, ...: the sources in this checkout (a consumer gets dist/). */
const entry = (path: string) => fileURLToPath(new URL(path, import.meta.url));

export default defineConfig({
  resolve: {
    alias: [
      { find: /^mailroom$/, replacement: entry('./src/index.ts') },
      { find: /^mailroom\/(observability|http|testing)$/, replacement: entry('./src/$1/index.ts') },
    ],
  },
  test: {
    include: ['test/**/*.test.ts'],
    // Every integration test file starts its own nats-server; two cores, so keep the pool small.
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 30_000,
    hookTimeout: 30_000,
  },
});
