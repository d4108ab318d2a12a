import { readFileSync } from 'node:fs';

/**
 * Mailroom's own package directory, as a `file:` URL ending in `/`: this module is
 * `src/package-root.ts` in the sources and `dist/src/package-root.js` in the build, so the
 * package root is one or two levels up. Files shipped beside the code (`nats.conf`,
 * `bin/mailroom.js`, `package.json`) are found from here, the same from either.
 * @internal
 */
export const packageRoot: URL = new URL(import.meta.url.endsWith('.ts') ? '../' : '../../', import.meta.url);

/** Mailroom's own version, from its package.json (not the version of whoever runs it). */
export function packageVersion(): string {
  const manifest = JSON.parse(readFileSync(new URL('package.json', packageRoot), 'utf8')) as { version?: unknown };
  return typeof manifest.version === 'string' ? manifest.version : 'unknown';
}
