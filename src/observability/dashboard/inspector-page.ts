import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import { readStaticFile } from './static-file.ts';

export interface InspectorPageOptions {
  /** The inspector server's port and the host it listens on. */
  readonly port: number;
  readonly host: string;
  /** The Stately Inspector the page opens (default https://stately.ai/inspect). */
  readonly inspectorUrl?: string;
}

let bundle: Promise<string> | undefined;

/**
 * `createBrowserInspector` from `@statelyai/inspect` for the browser, kept in memory, so the
 * relay page loads nothing from a CDN: the build's `stately-inspect.js` beside this module
 * (`npm run build` bundles it), or, running from the sources, bundled on first use with
 * esbuild (a development dependency; tsx, which runs the sources, is built on it).
 */
function browserInspectorBundle(): Promise<string> {
  bundle ??= (async () => {
    const prebuilt = await readFile(new URL('./stately-inspect.js', import.meta.url), 'utf8').catch(() => undefined);
    if (prebuilt !== undefined) return prebuilt;
    const { build } = await import('esbuild');
    const result = await build({
      stdin: { contents: "export { createBrowserInspector } from '@statelyai/inspect';", resolveDir: fileURLToPath(new URL('.', import.meta.url)), loader: 'js' },
      bundle: true,
      format: 'esm',
      platform: 'browser',
      minify: true,
      write: false,
      logLevel: 'silent',
    });
    return result.outputFiles[0]!.text;
  })();
  bundle.catch(() => (bundle = undefined));
  return bundle;
}

/**
 * The relay page at `/inspect`: it connects to the runtime's inspector WebSocket and hands
 * each event to `createBrowserInspector`, which shows them in Stately Inspector (an iframe
 * of https://stately.ai/inspect, so this page needs the internet; the dashboard does not).
 * When the inspector does not say it is connected within `?timeout=` ms (default 10 s) the page
 * hides the empty frame and explains how to do without it (the dashboard, a local WebSocket
 * receiver, the machine export), and keeps trying. `?inspector=URL` opens another inspector;
 * `?ws=URL` another WebSocket.
 */
export function createInspectorPagePlugin(options: InspectorPageOptions): (app: FastifyInstance) => Promise<void> {
  return async (app) => {
    const page = await readStaticFile('inspect.html');
    app.get('/inspect', async (_request, reply) => reply.type(page.type).header('cache-control', 'no-cache').send(page.body));
    app.get('/inspect/config', async () => ({
      port: options.port,
      // A wildcard address means "the host the page was loaded from".
      host: ['0.0.0.0', '::', ''].includes(options.host) ? null : options.host,
      inspectorUrl: options.inspectorUrl ?? 'https://stately.ai/inspect',
    }));
    app.get('/inspect/stately-inspect.js', async (_request, reply) => {
      try {
        return reply.type('text/javascript; charset=utf-8').header('cache-control', 'max-age=3600').send(await browserInspectorBundle());
      } catch (error) {
        return reply.code(503).type('text/plain').send(`cannot bundle @statelyai/inspect for the browser: ${error instanceof Error ? error.message : String(error)}`);
      }
    });
  };
}
