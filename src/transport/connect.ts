/**
 * The one way Mailroom opens a NATS connection.
 */
import { readFileSync } from 'node:fs';
import { connect, credsAuthenticator, nkeyAuthenticator, type ConnectionOptions, type NatsConnection } from '@nats-io/transport-node';
import { TransportError } from '../errors.ts';
import { patchNatsConnection } from './nats-client-patches.ts';

/** Options of {@link connectNats}. */
export interface ConnectNatsOptions {
  /** `nats://host:port`, or several separated by commas. */
  readonly url: string;
  /** The client name shown in the server's monitoring pages. */
  readonly name?: string;
  /** Reconnect attempts per server before giving up; `-1` (the default) never gives up. */
  readonly maxReconnectAttempts?: number;
  /** Wait between reconnect attempts to the same server (default 1000 ms). */
  readonly reconnectTimeWaitMs?: number;
  /** Upper bound of the random delay added to each wait (default 1000 ms). */
  readonly reconnectJitterMs?: number;
  /** User name and password; by default taken from a `nats://user:pass@host:port` URL (nats.js ignores them there). */
  readonly user?: string;
  readonly pass?: string;
  /** How long the first connect may take (default 20 s, nats.js's). */
  readonly connectTimeoutMs?: number;
  /** Credentials, one way (as `nats.auth` in the config): user + password, token, an NKey seed file, or a `.creds` file. */
  readonly auth?: NatsAuthOptions;
  /** TLS (as `nats.tls`): present → required; `ca` trusts a private CA, `cert` + `key` are a client certificate. Files. */
  readonly tls?: NatsTlsOptions;
}

/** How a client proves who it is; the secrets are never put into a message. */
export interface NatsAuthOptions {
  readonly user?: string;
  readonly password?: string;
  readonly token?: string;
  /** A file holding an NKey user seed (`SU…`). */
  readonly nkey?: string;
  /** A `.creds` file: a user JWT and its seed (operator mode, NGS). */
  readonly creds?: string;
}

/** TLS to the server; each a PEM file. */
export interface NatsTlsOptions {
  readonly ca?: string;
  readonly cert?: string;
  readonly key?: string;
}

/**
 * The `auth` and `tls` of a config's `nats` section, for {@link connectNats}: none for the
 * embedded server (no `url`), which is loopback-only. Plain data: it crosses to worker threads.
 */
export function natsSecurity(nats: { readonly url?: string | undefined; readonly auth?: NatsAuthOptions | undefined; readonly tls?: NatsTlsOptions | undefined }): Pick<ConnectNatsOptions, 'auth' | 'tls'> {
  if (nats.url === undefined) return {};
  return { ...(nats.auth ? { auth: nats.auth } : {}), ...(nats.tls ? { tls: nats.tls } : {}) };
}

function readSecretFile(path: string, what: string): Uint8Array {
  try {
    return new Uint8Array(readFileSync(path));
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code ?? 'unreadable';
    throw new TransportError(`cannot read the NATS ${what} file ${path} (${code})`, { cause });
  }
}

/** nats.js options for `auth` and `tls`, and a name for the way in use (for error messages: never the secret). */
function securityOptions(auth: NatsAuthOptions | undefined, tls: NatsTlsOptions | undefined): { options: Partial<ConnectionOptions>; way: string | undefined } {
  const options: Partial<ConnectionOptions> = {};
  let way: string | undefined;
  if (auth?.creds !== undefined) {
    options.authenticator = credsAuthenticator(readSecretFile(auth.creds, 'credentials (creds)'));
    way = `the credentials file ${auth.creds}`;
  } else if (auth?.nkey !== undefined) {
    const seed = new TextEncoder().encode(new TextDecoder().decode(readSecretFile(auth.nkey, 'NKey seed')).trim());
    options.authenticator = nkeyAuthenticator(seed);
    way = `the NKey seed in ${auth.nkey}`;
  } else if (auth?.token !== undefined) {
    options.token = auth.token;
    way = 'a token';
  } else if (auth?.user !== undefined) {
    options.user = auth.user;
    if (auth.password !== undefined) options.pass = auth.password;
    way = `user ${auth.user}`;
  }
  if (tls) {
    options.tls = { ...(tls.ca ? { caFile: tls.ca } : {}), ...(tls.cert ? { certFile: tls.cert } : {}), ...(tls.key ? { keyFile: tls.key } : {}) };
  }
  return { options, way };
}

/**
 * Splits `nats://user:pass@host:port` (or `nats://token@host:port`) into the server, without
 * the credentials, and the credentials: nats.js does not read them from a URL.
 */
export function credentialsOf(server: string): { server: string; user?: string; pass?: string; token?: string } {
  const match = /^([a-z]+:\/\/)?([^/@\s]+)@(.+)$/i.exec(server);
  if (!match) return { server };
  const plain = `${match[1] ?? ''}${match[3]}`;
  const auth = match[2]!;
  const colon = auth.indexOf(':');
  if (colon < 0) return { server: plain, token: decodeURIComponent(auth) };
  return { server: plain, user: decodeURIComponent(auth.slice(0, colon)), pass: decodeURIComponent(auth.slice(colon + 1)) };
}

/** Hides the password (or token) of a `nats://user:pass@host` URL. */
export function redactUrl(url: string): string {
  return url.replace(/(\/\/)([^/@\s]+)@/g, (_m, slashes: string, auth: string) => {
    const user = auth.split(':')[0] ?? '';
    return `${slashes}${auth.includes(':') ? `${user}:***` : '***'}@`;
  });
}

/**
 * Connects to NATS and keeps the connection: after the first connect succeeds the
 * client reconnects by itself, forever by default, with a jittered wait, and
 * re-establishes its subscriptions. Async stack traces are off (`noAsyncTraces`):
 * measured +50% on publish and on the consume→publish→ack loop.
 *
 * Two measured fixes to the client's hot paths are applied to the connection it returns, and
 * to no other (`nats-client-patches.ts`): no throw-away `RequestError` per answered request,
 * and one socket write per event-loop turn.
 *
 * Throws a {@link TransportError} naming the URL when the first connect fails.
 *
 * @example
 * ```ts
 * const nc = await connectNats({ url: 'nats://127.0.0.1:4222', name: 'mailroom' });
 * try { ... } finally { await nc.drain(); }
 * ```
 */
export async function connectNats(options: ConnectNatsOptions): Promise<NatsConnection> {
  const parsed = options.url.split(',').map((s) => s.trim()).filter((s) => s.length > 0).map(credentialsOf);
  const servers = parsed.map((p) => p.server);
  const user = options.user ?? parsed.find((p) => p.user !== undefined)?.user;
  const pass = options.pass ?? parsed.find((p) => p.pass !== undefined)?.pass;
  const token = user === undefined ? parsed.find((p) => p.token !== undefined)?.token : undefined;
  const security = securityOptions(options.auth, options.tls);
  let nc: NatsConnection;
  try {
    nc = await connect({
      servers,
      ...(options.name === undefined ? {} : { name: options.name }),
      ...(user === undefined ? {} : { user }),
      ...(pass === undefined ? {} : { pass }),
      ...(token === undefined ? {} : { token }),
      ...security.options,
      ...(options.connectTimeoutMs === undefined ? {} : { timeout: options.connectTimeoutMs }),
      noAsyncTraces: true,
      reconnect: true,
      maxReconnectAttempts: options.maxReconnectAttempts ?? -1,
      reconnectTimeWait: options.reconnectTimeWaitMs ?? 1000,
      reconnectJitter: options.reconnectJitterMs ?? 1000,
      waitOnFirstConnect: false,
    });
  } catch (cause) {
    const reason = redactUrl(cause instanceof Error ? cause.message : String(cause));
    const as = security.way ? ` as ${security.way}` : '';
    const over = options.tls ? ' over TLS' : '';
    // A server that verifies client certificates closes a connection without one after the handshake, silently.
    const hint = options.tls && !options.tls.cert && /timeout/i.test(reason) ? ' (if the server verifies client certificates, set nats.tls.cert and key)' : '';
    throw new TransportError(`cannot connect to NATS at ${redactUrl(options.url)}${as}${over}: ${reason}${hint}`, { cause });
  }
  patchNatsConnection(nc);
  return nc;
}
