import { timingSafeEqual } from 'node:crypto';
import { Agent, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import { connect } from 'node:net';

/**
 * The private channel between the ingress worker thread (which owns the public port) and the
 * runtime's HTTP server (which serves every non-public route, on a Unix socket in a 0700
 * directory). The worker passes on the real peer of each request in one header that carries
 * a per-process secret; the runtime's side believes it only with that secret and removes it
 * before any route sees the request. A client's own copy of the header is dropped by the
 * worker, so no request from outside can claim a peer (e.g. loopback) of its choosing.
 */
export const PEER_HEADER = 'mailroom-forwarded-peer';

/** Who sent a request, as the admin auth needs it. */
export interface Peer {
  readonly address: string | undefined;
  /** Arrived over TLS (the request's own origin is then https://). */
  readonly encrypted: boolean;
}

/** The peer of a request read from its own socket. */
export const socketPeer = (raw: IncomingMessage): Peer => ({ address: raw.socket.remoteAddress, encrypted: Boolean((raw.socket as { encrypted?: boolean }).encrypted) });

/** On the runtime's side: the forwarded peer when the header carries `secret`; the header is removed either way. */
export function takeForwardedPeer(raw: IncomingMessage, secret: string): Peer | undefined {
  const value = raw.headers[PEER_HEADER];
  delete raw.headers[PEER_HEADER];
  if (typeof value !== 'string') return undefined;
  const cut = value.indexOf(' ');
  if (cut < 0) return undefined;
  const given = Buffer.from(value.slice(0, cut));
  const expected = Buffer.from(secret);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined;
  try {
    const peer = JSON.parse(value.slice(cut + 1)) as { a?: unknown; e?: unknown };
    return { address: typeof peer.a === 'string' ? peer.a : undefined, encrypted: peer.e === true };
  } catch (_) {
    return undefined;
  }
}

/** Headers that belong to one connection, not to the request: not passed on. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade', PEER_HEADER]);

export interface Forwarder {
  forward(req: IncomingMessage, res: ServerResponse): void;
  /** Whether the runtime's server listens on the socket now (see {@link socketListens}). */
  reachable(timeoutMs?: number): Promise<boolean>;
  close(): void;
}

/**
 * Whether a server listens on the Unix socket `path`: a connection is accepted within
 * `timeoutMs`. The kernel accepts it even while the server's event loop is busy, so a loaded
 * runtime still counts as up; a server not started yet, or closed, does not.
 */
export function socketListens(path: string, timeoutMs = 1_000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ path });
    const done = (up: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(up);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/**
 * On the worker's side: passes a request, as a stream both ways, to the runtime's server on
 * `socketPath` (so a Server-Sent Events answer streams through as it is written), with the
 * real peer in {@link PEER_HEADER}.
 */
export function createForwarder(socketPath: string, secret: string): Forwarder {
  const agent = new Agent({ keepAlive: true, maxSockets: 256 });
  const forward = (req: IncomingMessage, res: ServerResponse) => {
    const headers: Record<string, string | string[]> = {};
    for (const [name, value] of Object.entries(req.headers)) if (value !== undefined && !HOP_BY_HOP.has(name)) headers[name] = value;
    const peer = socketPeer(req);
    headers[PEER_HEADER] = `${secret} ${JSON.stringify({ a: peer.address, e: peer.encrypted })}`;
    const upstream = httpRequest({ socketPath, method: req.method, path: req.url, headers, agent }, (answer) => {
      const out: Record<string, string | string[]> = {};
      for (const [name, value] of Object.entries(answer.headers)) if (value !== undefined && !HOP_BY_HOP.has(name)) out[name] = value;
      res.writeHead(answer.statusCode ?? 502, answer.statusMessage, out);
      // An event stream has no body length: send its headers now, not with the first event.
      res.flushHeaders();
      answer.pipe(res);
      answer.once('error', () => res.destroy());
    });
    upstream.once('error', (error) => {
      if (res.headersSent) return void res.destroy();
      res.writeHead(503, { 'content-type': 'application/json', 'retry-after': '1' }).end(JSON.stringify({ error: 'unavailable', detail: `the runtime's HTTP server did not answer: ${error.message}` }));
    });
    // The client went away (e.g. a closed event stream): so does the forwarded request.
    res.once('close', () => {
      if (!res.writableFinished) upstream.destroy();
    });
    req.pipe(upstream);
  };
  return { forward, reachable: (timeoutMs) => socketListens(socketPath, timeoutMs), close: () => agent.destroy() };
}
