import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { socketPeer, type Peer } from './peer-forwarding.ts';
import type { AuditEntry } from '../core/mailroom-types.ts';
import { DASHBOARD_EXTRA_FILES } from '../observability/dashboard/page-files.ts';

/** One admin action: who (a token id, `loopback` or `anonymous`), from where, what, and how it ended. */
export type { AuditEntry } from '../core/mailroom-types.ts';

/**
 * How a route is reached: `public` by anyone (the inbox, health, capability status URLs);
 * `page` a static page shell with no data in it (a browser navigation cannot send a token;
 * its scripts fetch the data with one); `admin` everything else, the default.
 */
export type RouteAccess = 'public' | 'page' | 'admin';

/** The public routes, as `METHOD url-pattern`. Anything not listed here or in {@link PAGE_ROUTES} is admin. */
export const PUBLIC_ROUTES: readonly string[] = ['POST /inbox', 'GET /healthz', 'GET /readyz', 'GET /status/:from/:correlation/:hash/:token'];

/** Static page shells (dashboard, inspector relay page): no token needed, served only where admin routes are. */
export const PAGE_ROUTES: readonly string[] = ['GET /', 'GET /dashboard/dashboard.css', 'GET /dashboard/dashboard.js', 'GET /inspect', 'GET /inspect/stately-inspect.js', ...DASHBOARD_EXTRA_FILES.map((path) => `GET ${path}`)];

/** Admin actions that write one audit entry each (also when refused). */
const AUDITED: Readonly<Record<string, string>> = {
  'POST /dead-letters/:id/replay': 'dead-letter.replay',
  'DELETE /dead-letters/:id': 'dead-letter.purge',
  'DELETE /dead-letters': 'dead-letter.purge-all',
  'POST /dead-letters/replay': 'dead-letter.replay-bulk',
  'POST /dead-letters/purge': 'dead-letter.purge-bulk',
  'POST /workflows': 'workflow.start',
  'POST /workflows/*': 'workflow',
  'POST /conversations': 'conversation.start',
};

export interface AdminAuthOptions {
  /** Admin bearer tokens (several, for rotation). None: admin routes answer only to loopback peers. */
  readonly tokens: readonly string[];
  /** `/metrics`: admin (default) or public. */
  readonly metrics?: 'admin' | 'public';
  /** With a separate admin listener: tells its requests apart. The other listener then serves only public routes. */
  readonly isAdminListener?: (raw: IncomingMessage) => boolean;
  /** The server's public base URL: its origin counts as the server's own (besides the Host header's). */
  readonly publicUrl?: string;
  readonly onAudit?: (entry: AuditEntry) => void;
  /**
   * Who sent a request (default: its socket's peer). Behind the ingress worker, the peer the
   * worker saw, passed on over the private channel (see peer-forwarding.ts): never a header a
   * client can set.
   */
  readonly peerOf?: (raw: IncomingMessage) => Peer;
}

const sha256 = (text: string) => createHash('sha256').update(text, 'utf8').digest();

/** The id of a token in audit lines: the first 8 hex digits of its SHA-256. */
export const tokenId = (token: string) => `token:${sha256(token).toString('hex').slice(0, 8)}`;

/** 127.0.0.0/8, ::1 and IPv4-mapped 127.x. */
export function isLoopbackAddress(address: string | undefined): boolean {
  if (!address) return false;
  const v4 = address.startsWith('::ffff:') ? address.slice(7) : address;
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(v4) || address === '::1';
}

/** The host part of a Host header: `localhost:8080` → `localhost`, `[::1]:80` → `::1`. */
function hostnameOf(host: string): string {
  const bracketed = /^\[([^\]]*)\]/.exec(host);
  return (bracketed ? bracketed[1]! : host.replace(/:\d*$/, '')).toLowerCase();
}

const isLoopbackHost = (host: string | undefined) => {
  if (!host) return false;
  const name = hostnameOf(host);
  return name === 'localhost' || isLoopbackAddress(name);
};

const PROXY_HEADERS = ['forwarded', 'x-forwarded-for', 'x-real-ip'];

/** Per request: who was let in (for the audit), and what the handler noted. */
const whoOf = new WeakMap<FastifyRequest, string>();
const notesOf = new WeakMap<FastifyRequest, Record<string, string>>();

/** Who an admin request was let in as (`token:<id>` or `loopback`); `undefined` for a public route. */
export function adminWho(request: FastifyRequest): string | undefined {
  return whoOf.get(request);
}

/** Adds IDs to the audit entry of this request (e.g. the correlation a conversation got). */
export function noteAudit(request: FastifyRequest, fields: Readonly<Record<string, string>>): void {
  notesOf.set(request, { ...notesOf.get(request), ...fields });
}

function refuse(reply: FastifyReply, status: number, error: string, detail: string): FastifyReply {
  return reply.code(status).header('cache-control', 'no-store').type('application/json').send({ error, detail });
}

/**
 * Guards a runtime's HTTP server: one `onRequest` hook classifies every route (those added
 * later by plugins too) as public, page or admin, deny by default, and on admin routes
 * refuses cross-origin browser requests, then asks for a bearer token (or, with no token
 * configured, a loopback peer). One `onResponse` hook writes the audit entry of each admin action.
 */
export function installAdminAuth(app: FastifyInstance, options: AdminAuthOptions): void {
  const hashes = options.tokens.map((token) => ({ hash: sha256(token), id: tokenId(token) }));
  const publicRoutes = new Set([...PUBLIC_ROUTES, ...(options.metrics === 'public' ? ['GET /metrics'] : [])]);
  const pageRoutes = new Set(PAGE_ROUTES);
  const peerOf = options.peerOf ?? socketPeer;
  const publicOrigin = options.publicUrl ? new URL(options.publicUrl).origin.toLowerCase() : undefined;

  const routeOf = (request: FastifyRequest): string | undefined => {
    const url = request.routeOptions.url;
    return url === undefined ? undefined : `${request.method === 'HEAD' ? 'GET' : request.method} ${url}`;
  };
  const accessOf = (route: string | undefined): RouteAccess => (route === undefined ? 'admin' : publicRoutes.has(route) ? 'public' : pageRoutes.has(route) ? 'page' : 'admin');

  /** Why a request is a cross-origin browser request, or undefined. */
  const crossOrigin = (request: FastifyRequest): string | undefined => {
    const site = request.headers['sec-fetch-site'];
    if (site === 'cross-site' || site === 'same-site') return `Sec-Fetch-Site: ${site}`;
    const origin = request.headers.origin;
    if (origin === undefined) return undefined;
    const own = `${peerOf(request.raw).encrypted ? 'https' : 'http'}://${request.headers.host ?? ''}`.toLowerCase();
    const given = origin.toLowerCase();
    return given === own || given === publicOrigin ? undefined : `Origin: ${origin.slice(0, 200)}`;
  };

  /** The caller's identity, or why it is refused. */
  const authenticate = (request: FastifyRequest): { who: string } | { status: number; error: string; detail: string; challenge?: string } => {
    if (hashes.length > 0) {
      const header = request.headers.authorization;
      const match = typeof header === 'string' ? /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header) : null;
      if (!match) return { status: 401, error: 'unauthorized', detail: 'this route needs an admin token: Authorization: Bearer <token> (http.adminTokens or MAILROOM_ADMIN_TOKEN)', challenge: 'Bearer realm="mailroom"' };
      const given = sha256(match[1]!);
      let who: string | undefined;
      // Every token is compared, found or not: the time taken says nothing about which matched.
      for (const { hash, id } of hashes) if (timingSafeEqual(hash, given) && who === undefined) who = id;
      if (who === undefined) return { status: 401, error: 'unauthorized', detail: 'the admin token is not one of http.adminTokens / MAILROOM_ADMIN_TOKEN', challenge: 'Bearer realm="mailroom", error="invalid_token"' };
      return { who };
    }
    const peer = peerOf(request.raw).address;
    const proxied = PROXY_HEADERS.find((name) => request.headers[name] !== undefined);
    if (!isLoopbackAddress(peer) || proxied) {
      const from = proxied ? `through a proxy (${proxied} header)` : `from ${peer ?? 'an unknown address'}`;
      return { status: 403, error: 'admin-loopback-only', detail: `no admin token is configured, so admin routes answer only to loopback peers (127.0.0.1, ::1); this request came ${from}. Set http.adminTokens or MAILROOM_ADMIN_TOKEN to admit others with a token` };
    }
    // A page of another site that rebound its DNS name to 127.0.0.1 sends its own name as Host.
    if (!isLoopbackHost(request.headers.host)) {
      return { status: 403, error: 'host-not-allowed', detail: `without an admin token, admin routes answer only to requests for a loopback host (localhost, 127.0.0.1, [::1]), not ${String(request.headers.host).slice(0, 200)}` };
    }
    return { who: 'loopback' };
  };

  app.addHook('onRequest', async (request, reply) => {
    const access = accessOf(routeOf(request));
    if (access === 'public') return;
    if (options.isAdminListener && !options.isAdminListener(request.raw)) return refuse(reply, 404, 'not-found', `no route ${request.method} ${request.url.split('?')[0]!.slice(0, 200)} here`);
    if (access === 'page') {
      // The page carries no data; its scripts need the token. Never framed by another site.
      reply.header('x-frame-options', 'DENY').header('content-security-policy', "frame-ancestors 'none'").header('referrer-policy', 'no-referrer');
      return;
    }
    const cross = crossOrigin(request);
    if (cross) return refuse(reply, 403, 'cross-origin', `admin routes refuse requests from other origins (${cross}); there is no CORS`);
    const auth = authenticate(request);
    if ('who' in auth) {
      whoOf.set(request, auth.who);
      return;
    }
    if (auth.challenge) reply.header('www-authenticate', auth.challenge);
    return refuse(reply, auth.status, auth.error, auth.detail);
  });

  if (!options.onAudit) return;
  const onAudit = options.onAudit;
  app.addHook('onResponse', async (request, reply) => {
    const route = routeOf(request);
    let action = route === undefined ? undefined : AUDITED[route];
    if (action === undefined || route === undefined) return;
    const ids: Record<string, string> = {};
    for (const [key, value] of Object.entries((request.params ?? {}) as Record<string, unknown>)) if (typeof value === 'string') ids[key] = value;
    if (action === 'workflow') {
      // POST /workflows/{id}/{events|cancel|resume}: the ID may hold slashes, the action is the last segment.
      const path = ids['*'] ?? '';
      const cut = path.lastIndexOf('/');
      action = `workflow.${path.slice(cut + 1) === 'events' ? 'send' : path.slice(cut + 1)}`;
      delete ids['*'];
      ids.workflow = path.slice(0, Math.max(0, cut));
    }
    Object.assign(ids, notesOf.get(request));
    const who = whoOf.get(request);
    const status = reply.statusCode;
    try {
      onAudit({ action, route, who: who ?? 'anonymous', peer: peerOf(request.raw).address ?? 'unknown', ids, status, outcome: who === undefined ? 'denied' : status < 400 ? 'ok' : 'failed' });
    } catch (_) {
      // An audit sink that throws must not break the answer, which is sent already.
    }
  });
}
