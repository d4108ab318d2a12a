import { extname, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { TypeScriptModuleError } from './errors.ts';

const TYPESCRIPT = new Set(['.ts', '.mts', '.cts', '.tsx']);

/** `--import tsx`, `--import tsx/esm`, or the files of tsx's CLI (`node_modules/tsx/dist/loader.mjs`). */
const TSX_LOADER = /(?:^|[\s=])tsx(?:\/esm)?(?:\s|$)|[\\/]node_modules[\\/]tsx[\\/]/;

/**
 * A TypeScript loader is active already: Mailroom itself runs from its `.ts` sources (tsx,
 * vitest), or node was started with tsx (`tsx app.ts`, `node --import tsx app.ts`).
 */
const typescriptLoaded = import.meta.url.endsWith('.ts') || [...process.execArgv, process.env.NODE_OPTIONS ?? ''].some((arg) => TSX_LOADER.test(arg));

let tsx: Promise<void> | undefined;

/**
 * tsx's ESM loader, registered once for the whole process, on the first `.ts` module. tsx is
 * an optional peer dependency: the built package loads plain JavaScript without it.
 */
function registerTsx(path: string): Promise<void> {
  tsx ??= (async () => {
    let api: { register: () => unknown };
    try {
      api = (await import('tsx/esm/api')) as typeof api;
    } catch (cause) {
      // Node 22.18+ / 23.6+ strip types natively: let it try.
      if ((process.features as { typescript?: unknown }).typescript) return;
      throw new TypeScriptModuleError(path, { cause });
    }
    api.register();
  })();
  tsx.catch(() => (tsx = undefined));
  return tsx;
}

/**
 * Imports a user's module named in the config or on the command line (handlers, workflows,
 * machines). A `.ts` module loads through tsx, registered on demand; JavaScript needs nothing.
 * @internal
 */
export async function importUserModule(path: string): Promise<Record<string, unknown>> {
  const absolute = resolve(path);
  if (!typescriptLoaded && TYPESCRIPT.has(extname(absolute))) await registerTsx(absolute);
  return (await import(pathToFileURL(absolute).href)) as Record<string, unknown>;
}
