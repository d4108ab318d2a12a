import { once } from 'node:events';
import { WebSocketServer, WebSocket } from 'ws';
import { createInspector, type StatelyInspectionEvent } from '@statelyai/inspect';
import type { InspectionEvent } from 'xstate';
import { inspectionPredicate, type InspectionFilter } from './inspection-filter.ts';

export interface InspectorServerOptions {
  /** Default {@link DEFAULT_INSPECT_PORT}; 0 picks a free port. */
  readonly port?: number;
  /** Default 127.0.0.1: inspection events show envelope metadata, so keep them local unless asked. */
  readonly host?: string;
  /** Which envelopes to stream (default: all). */
  readonly filter?: InspectionFilter;
  /** Stop sending to a client whose unsent data exceeds this many bytes (a stalled browser); default 8 MiB. */
  readonly maxBufferedBytes?: number;
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
  const wss = new WebSocketServer({ host, port: options.port ?? DEFAULT_INSPECT_PORT });
  await Promise.race([once(wss, 'listening'), once(wss, 'error').then(([error]) => Promise.reject(error as Error))]);
  const address = wss.address();
  const port = typeof address === 'object' && address ? address.port : (options.port ?? DEFAULT_INSPECT_PORT);

  const send = (socket: WebSocket, message: string) => {
    if (socket.readyState === WebSocket.OPEN && socket.bufferedAmount < maxBuffered) socket.send(message);
  };
  /** The root actor's registration: sent to every client on connect, so envelope actors have their parent. */
  let rootActor: string | undefined;
  const inspector = createInspector(
    {
      send(event: StatelyInspectionEvent) {
        const message = toJson(event);
        if (event.type === '@xstate.actor' && event.parentId === undefined) rootActor = message;
        for (const client of wss.clients) send(client, message);
      },
    },
    { autoStart: false },
  );

  wss.on('connection', (socket) => {
    if (rootActor) send(socket, rootActor);
    socket.on('message', (data) => {
      const message = data.toString();
      for (const client of wss.clients) if (client !== socket) send(client, message);
    });
    socket.on('error', () => socket.terminate());
  });

  const accepts = inspectionPredicate(options.filter);
  const isRootActor = (event: InspectionEvent) => event.type === '@xstate.actor' && (event.actorRef as { _parent?: unknown })._parent === undefined;
  let stopping: Promise<void> | undefined;
  return {
    url: `ws://${host.includes(':') ? `[${host}]` : host}:${port}`,
    port,
    host,
    inspect(event) {
      if (stopping) return;
      if (wss.clients.size === 0 && !isRootActor(event)) return;
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
