import { isIP } from 'node:net';

/**
 * The base URL the inbox is reachable at when `http.publicUrl` is not set: `http://` or,
 * with `tls`, `https://`, then the host and port it listens on. A wildcard host (`0.0.0.0`,
 * `::`) becomes `localhost`. With `http.port: 0` the port is only known after listening,
 * so the HTTP server calls this again with the port it got.
 *
 * @example
 * derivePublicUrl({ host: '127.0.0.1', port: 8080 }); // 'http://127.0.0.1:8080'
 * derivePublicUrl({ host: '::', port: 8443, tls: true }); // 'https://localhost:8443'
 */
export function derivePublicUrl(http: { readonly host: string; readonly port: number; readonly tls?: unknown }): string {
  const scheme = http.tls ? 'https' : 'http';
  const wildcard = http.host === '0.0.0.0' || http.host === '::' || http.host === '';
  const host = wildcard ? 'localhost' : isIP(http.host) === 6 ? `[${http.host}]` : http.host;
  return new URL(`${scheme}://${host}:${http.port}`).origin;
}

/** Drops a trailing slash so that `${publicUrl}/status/...` has exactly one. @internal */
export function trimTrailingSlash(url: string): string {
  return url.replace(/\/+$/, '');
}
