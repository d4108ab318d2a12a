import { once } from 'node:events';
import { WebSocketServer, WebSocket } from 'ws';
import { createInspector, type StatelyInspectionEvent } from '@statelyai/inspect';
import type { InspectionEvent } from 'xstate';
import { inspectionPredicate, type InspectionFilter } from './inspection-filter.ts';
import { isWorkflowActor } from './workflow-inspection.ts';

export interface InspectorServerOptions {
  /** Default {@link DEFAULT_INSPECT_PORT}; 0 picks a free port. */
  readonly port?: number;
  /** Default 127.0.0.1: inspection events show envelope metadata, so keep them local unless asked. */
  readonly host?: string;
  /** Which envelopes to stream (default: all). Workflows (see `workflow-inspection.ts`) are always streamed. */
  readonly filter?: InspectionFilter;
  /** Stop sending to a client whose unsent data exceeds this many bytes (a stalled browser); default 8 MiB. */
  readonly maxBufferedBytes?: number;
  /**
   * Browser origins allowed to connect besides loopback ones (`http://localhost:*`,
   * `http://127.x.x.x:*`, `http://[::1]:*`), e.g. the runtime's public URL that serves `/inspect`.
   * A WebSocket is not covered by CORS: without this check any web page the operator opens
   * could read the stream. Clients that send no `Origin` (Node, the CLI) are not browsers.
   */
  readonly allowedOrigins?: readonly string[];
  /** How many workflows a client that connects is shown at once (their registrations, latest state); default 200, the most recently stepped. */
  readonly replayWorkflows?: number;
}

/** A running WebSocket inspector. */
export interface InspectorServer {
  /** `ws://host:port`: what `createWebSocketReceiver({ server })` or the `/inspect` relay page connects to. */
  readonly url: string;
  readonly port: number;
  readonly host: string;
  /** Pass as `startMailroom`'s `inspect` option. */
  readonly inspect: (event: InspectionEvent) => void;
  /** Connected clients. */
  clients(): number;
  /** Closes every connection and the server. Idempotent. */
  stop(): Promise<void>;
}

export const DEFAULT_INSPECT_PORT = 8081;

/** `scheme://host:port` of a URL, lower-cased; undefined when it is not a URL. */
function originOf(url: string): string | undefined {
  try {
    return new URL(url).origin.toLowerCase();
  } catch (_) {
    return undefined;
  }
}

/** No Origin (not a browser), a loopback origin, or one of `allowed`. */
export function isAllowedOrigin(origin: string | undefined, allowed: ReadonlySet<string> = new Set()): boolean {
  if (origin === undefined || origin === '') return true;
  const normalised = originOf(origin);
  if (normalised === undefined) return false;
  if (allowed.has(normalised)) return true;
  const { hostname, protocol } = new URL(normalised);
  if (protocol !== 'http:' && protocol !== 'https:') return false;
  return hostname === 'localhost' || hostname === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(hostname);
}

/** JSON, even for a value with a cycle (the repeated object becomes "[Circular]"). */
function toJson(value: unknown): string {
  try {
    return JSON.stringify(value);
  } catch (_) {
    const seen = new WeakSet<object>();
    return JSON.stringify(value, (_key, v: unknown) => {
      if (typeof v === 'bigint') return v.toString();
      if (typeof v !== 'object' || v === null) return v;
      if (seen.has(v)) return '[Circular]';
      seen.add(v);
      return v;
    });
  }
}

/**
 * Serves the runtime's XState inspection events over WebSocket, in the format of
 * `@statelyai/inspect` (the events `createWebSocketInspector` sends): connect a
 * `createWebSocketReceiver`, or open the runtime's `/inspect` page, which relays them to
 * Stately Inspector. Like Stately's own inspector server it also relays what one client
 * sends to the others, so another process's `createWebSocketInspector` can join.
 *
 * Only the envelopes the filter accepts are converted and sent, and nothing is converted
 * while no client is connected: an idle inspector costs one check per inspection event.
 * Workflows (their synthetic actors, see `workflow-inspection.ts`) pass any filter; a client
 * that connects gets the registrations of the most recently stepped ones, with their current
 * snapshot, after the runtime's root actor.
 *
 * @example
 * ```ts
 * const inspector = await startInspectorServer({ port: 8081, filter: { subject: ['Hello@Host'] } });
 * const mailroom = await startMailroom(config, { inspect: inspector.inspect });
 * ```
 */
export async function startInspectorServer(options: InspectorServerOptions = {}): Promise<InspectorServer> {
  const host = options.host ?? '127.0.0.1';
  const maxBuffered = options.maxBufferedBytes ?? 8 * 1024 * 1024;
  const allowed = new Set((options.allowedOrigins ?? []).map((origin) => originOf(origin)).filter((o): o is string => o !== undefined));
  const wss = new WebSocketServer({
    host,
    port: options.port ?? DEFAULT_INSPECT_PORT,
    verifyClient: ({ origin }: { origin?: string }) => isAllowedOrigin(origin, allowed),
  });
  await Promise.race([once(wss, 'listening'), once(wss, 'error').then(([error]) => Promise.reject(error as Error))]);
  const address = wss.address();
  const port = typeof address === 'object' && address ? address.port : (options.port ?? DEFAULT_INSPECT_PORT);

  const send = (socket: WebSocket, message: string) => {
    if (socket.readyState === WebSocket.OPEN && socket.bufferedAmount < maxBuffered) socket.send(message);
  };
  /** The root actor's registration: sent to every client on connect, so envelope actors have their parent. */
  let rootActor: string | undefined;
  let rootSessionId: string | undefined;
  const inspector = createInspector(
    {
      send(event: StatelyInspectionEvent) {
        const message = toJson(event);
        if (event.type === '@xstate.actor' && event.sessionId === rootSessionId) rootActor = message;
        for (const client of wss.clients) send(client, message);
      },
    },
    { autoStart: false },
  );

  /**
   * Workflow registrations, most recently stepped last: a workflow is registered once per
   * process, so a client that connects later gets them (with their current snapshot) on connect.
   */
  const workflows = new Map<string, InspectionEvent>();
  const replayWorkflows = options.replayWorkflows ?? 200;
  const remember = (event: InspectionEvent) => {
    const sessionId = event.actorRef.sessionId;
    const registration = event.type === '@xstate.actor' ? event : workflows.get(sessionId);
    if (!registration) return;
    workflows.delete(sessionId);
    workflows.set(sessionId, registration);
    while (workflows.size > replayWorkflows) workflows.delete(workflows.keys().next().value!);
  };

  wss.on('connection', (socket) => {
    if (rootActor) send(socket, rootActor);
    if (workflows.size) {
      const replay = createInspector({ send: (event: StatelyInspectionEvent) => send(socket, toJson(event)) }, { autoStart: false });
      for (const registration of workflows.values()) replay.inspect.next?.(registration);
    }
    socket.on('message', (data) => {
      const message = data.toString();
      for (const client of wss.clients) if (client !== socket) send(client, message);
    });
    socket.on('error', () => socket.terminate());
  });

  const accepts = inspectionPredicate(options.filter);
  // Workflows are root actors of their own, but not the runtime's: they do not greet every client.
  const isRootActor = (event: InspectionEvent) => event.type === '@xstate.actor' && (event.actorRef as { _parent?: unknown })._parent === undefined && !isWorkflowActor(event.actorRef);
  let stopping: Promise<void> | undefined;
  return {
    url: `ws://${host.includes(':') ? `[${host}]` : host}:${port}`,
    port,
    host,
    inspect(event) {
      if (stopping) return;
      if (isWorkflowActor(event.actorRef)) remember(event);
      else if (isRootActor(event)) rootSessionId = event.actorRef.sessionId;
      if (wss.clients.size === 0 && !isRootActor(event)) return;
      // The filter is about envelopes: workflows always pass it.
      if (accepts(event)) inspector.inspect.next?.(event);
    },
    clients: () => wss.clients.size,
    stop: () =>
      (stopping ??= new Promise<void>((resolve) => {
        for (const client of wss.clients) client.terminate();
        wss.close(() => resolve());
      })),
  };
}
