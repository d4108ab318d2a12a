/**
 * The one way Mailroom opens a NATS connection.
 */
import { connect, type NatsConnection } from '@nats-io/transport-node';
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
  let nc: NatsConnection;
  try {
    nc = await connect({
      servers,
      ...(options.name === undefined ? {} : { name: options.name }),
      ...(user === undefined ? {} : { user }),
      ...(pass === undefined ? {} : { pass }),
      ...(token === undefined ? {} : { token }),
      noAsyncTraces: true,
      reconnect: true,
      maxReconnectAttempts: options.maxReconnectAttempts ?? -1,
      reconnectTimeWait: options.reconnectTimeWaitMs ?? 1000,
      reconnectJitter: options.reconnectJitterMs ?? 1000,
      waitOnFirstConnect: false,
    });
  } catch (cause) {
    const reason = redactUrl(cause instanceof Error ? cause.message : String(cause));
    throw new TransportError(`cannot connect to NATS at ${redactUrl(options.url)}: ${reason}`, { cause });
  }
  patchNatsConnection(nc);
  return nc;
}
