/**
 * HTTP attached to a runtime from outside: the runtime knows nothing of HTTP, and this module
 * needs only the runtime's public API. `startMailroom` calls it unless `http: false`; a program
 * that started one with `http: false` may call it itself.
 */
import type { HttpRuntime, HttpServer, HttpServerOptions } from './http-server.ts';
import type { IngressWorker } from './ingress.ts';

export interface ServeMailroomOptions extends Omit<HttpServerOptions, 'forwarded'> {
  /**
   * The ingress worker thread that owns the public port (`ingress: 'worker'`): the server then
   * listens on the worker's private socket and takes every request but the public routes.
   */
  readonly ingress?: Pick<IngressWorker, 'url' | 'forward'>;
}

/**
 * Serves a runtime over HTTP: the public routes (`POST /inbox`, health, capability status URLs),
 * the admin routes, and the plugins. Resolves once it listens; `stop()` on the result closes it.
 *
 * @example
 * ```ts
 * const mailroom = await startMailroom(config, { http: false });
 * const http = await serveMailroom(mailroom, { host: '127.0.0.1', port: 8080, maxBodyBytes: 1 << 20 });
 * ```
 */
export async function serveMailroom(mailroom: HttpRuntime, options: ServeMailroomOptions): Promise<HttpServer> {
  // Loaded only here: a runtime without HTTP does not carry fastify (~15 MB of resident memory).
  const { startHttpServer } = await import('./http-server.ts');
  const { ingress, ...rest } = options;
  return startHttpServer(mailroom, { ...rest, ...(ingress ? { forwarded: { ...ingress.forward, url: ingress.url } } : {}) });
}
