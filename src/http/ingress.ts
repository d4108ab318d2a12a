/**
 * The ingress worker thread, seen from the runtime's thread. `POST /inbox` runs there, on an
 * event loop of its own with its own NATS connection, so envelope processing (actors, verify,
 * sign, KV writes) on the runtime's thread can never delay its answer: it answers once
 * JetStream stored the envelope, whatever the backlog. The worker owns the public port and
 * passes every non-public request to the runtime's HTTP server on a private Unix socket.
 */
import { workerAccessLog, type AccessLogEntry } from './access-log.ts';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { TransportError } from '../errors.ts';
import type { ConnectNatsOptions } from '../transport/connect.ts';
import type { InboxSnapshot } from '../core/inbox-snapshot.ts';
import type { HostedManifests } from './manifest-route.ts';
import type { PublicSubjectMap } from '../runtime/public-envelopes.ts';

/** What the worker is started with (structured-cloned: plain data only). @internal */
export interface IngressSpec {
  readonly natsUrl: string;
  readonly natsSecurity?: Pick<ConnectNatsOptions, 'auth' | 'tls'>;
  readonly prefix: string;
  readonly ordering?: { readonly by: 'sender' | 'subject'; readonly partitions: number };
  readonly http: {
    readonly host: string;
    readonly port: number;
    readonly maxBodyBytes: number;
    readonly readTimeoutMs: number;
    readonly publicUrl?: string;
    readonly tls?: { readonly cert: string; readonly key: string };
  };
  readonly statusSecret: Uint8Array;
  readonly forward: { readonly path: string; readonly secret: string };
  readonly inbox: { readonly maxPending?: number; readonly retryAfterMs: number };
  readonly publishTimeoutMs: number;
  /** The hosted domains' manifests, answered to `Manifest@Domain`. */
  readonly manifests?: HostedManifests;
  /** The hosted domains' public subjects: unproven envelopes are accepted only there (rate-limited). */
  readonly publicSubjects?: PublicSubjectMap;
  /** Their rate limit (`publicLimit`). */
  readonly publicLimit?: { readonly rate?: number | undefined; readonly burst?: number | undefined; readonly totalRate?: number | undefined; readonly totalBurst?: number | undefined } | undefined;
}

/** @internal */
export type IngressToRuntime =
  | { readonly type: 'ready'; readonly url: string }
  | { readonly type: 'failed'; readonly message: string; readonly code?: string }
  | { readonly type: 'error'; readonly context: string; readonly message: string }
  | { readonly type: 'access'; readonly entries: AccessLogEntry[] }
  | { readonly type: 'snapshot'; readonly id: number; readonly snapshot: InboxSnapshot }
  | { readonly type: 'stopped' };

/** @internal */
export type RuntimeToIngress = { readonly type: 'snapshot'; readonly id: number } | { readonly type: 'stop' };

/** A running ingress worker. */
export interface IngressWorker {
  /** The public URL it listens on. */
  readonly url: string;
  /** Where the runtime's HTTP server must listen, and the secret the worker passes peers with. */
  readonly forward: { readonly path: string; readonly secret: string };
  /** What `POST /inbox` answered so far, and the backlog the worker last saw. */
  snapshot(): Promise<InboxSnapshot>;
  /** Stops listening, finishes the requests in flight, closes its NATS connection. Idempotent. */
  stop(): Promise<void>;
}

/**
 * The thread's entry: from the TypeScript sources (a checkout, tests, benchmarks), a plain
 * .mjs that loads them through tsx (a worker thread does not inherit its parent's loader);
 * from the built package, the compiled module itself, on plain Node.
 */
const workerUrl = import.meta.url.endsWith('.ts') ? new URL('./ingress-worker.mjs', import.meta.url) : new URL('./ingress-worker-main.js', import.meta.url);
const STOP_TIMEOUT_MS = 15_000;

/** A 0700 directory for the private socket, and a secret for the forwarded peers. */
export async function ingressChannel(): Promise<{ readonly dir: string; readonly path: string; readonly secret: string }> {
  // mkdtemp creates the directory with mode 0700: only this user can reach the socket in it.
  const dir = await mkdtemp(join(tmpdir(), 'mailroom-ingress-'));
  return { dir, path: join(dir, 'runtime.sock'), secret: randomBytes(24).toString('base64url') };
}

/** One worker thread, started and listening. */
interface Started {
  readonly worker: Worker;
  readonly url: string;
  readonly port: number;
  /** Resolves when the thread has ended. */
  readonly exit: Promise<number>;
}

/**
 * Starts the worker and waits until it listens. `onError` gets its runtime errors (a failed
 * status write, a lost backlog sample). A worker that ends unexpectedly is reported and
 * started again (on the same port) after a second, until `stop()`.
 */
export async function startIngressWorker(spec: Omit<IngressSpec, 'forward'>, onError: (error: unknown, context: string) => void): Promise<IngressWorker> {
  const channel = await ingressChannel();
  const forward = { path: channel.path, secret: channel.secret };
  const waiting = new Map<number, (snapshot: InboxSnapshot) => void>();
  let nextId = 1;
  let stopping = false;

  const launch = (port: number): Promise<Started> => {
    const worker = new Worker(workerUrl, { workerData: { ...spec, http: { ...spec.http, port }, forward } satisfies IngressSpec, name: 'mailroom-ingress', resourceLimits: { maxYoungGenerationSizeMb: YOUNG_GENERATION_MB } });
    const exit = new Promise<number>((resolve) => worker.once('exit', resolve));
    worker.on('error', (error) => onError(error, 'ingress worker'));
    return new Promise<Started>((resolve, reject) => {
      void exit.then(() => reject(new TransportError('the ingress worker thread ended before it listened')));
      worker.on('message', (message: IngressToRuntime) => {
        switch (message.type) {
          case 'ready': {
            const bound = Number(new URL(message.url).port);
            return resolve({ worker, url: message.url, port: bound, exit });
          }
          case 'failed':
            void worker.terminate(); // it holds a NATS connection: a thread left running keeps the process alive
            return reject(Object.assign(new TransportError(`the ingress worker could not start: ${message.message}`), message.code ? { code: message.code } : {}));
          case 'error':
            return onError(new Error(message.message), `ingress: ${message.context}`);
          case 'snapshot': {
            waiting.get(message.id)?.(message.snapshot);
            waiting.delete(message.id);
            return;
          }
          case 'access':
            for (const entry of message.entries) workerAccessLog.emit('access', entry);
            return;
          case 'stopped':
            return;
        }
      });
    });
  };

  let current: Started;
  try {
    current = await launch(spec.http.port);
  } catch (error) {
    await rm(channel.dir, { recursive: true, force: true });
    throw error;
  }
  const url = current.url;
  let restarting: Promise<void> | undefined;
  const supervise = (started: Started) => {
    void started.exit.then((code) => {
      if (stopping) return;
      onError(new TransportError(`the ingress worker thread ended (exit code ${code}): POST /inbox is not served until it is started again`), 'ingress');
      restarting = (async () => {
        while (!stopping) {
          await new Promise((resolve) => setTimeout(resolve, RESTART_DELAY_MS));
          if (stopping) return;
          try {
            current = await launch(started.port);
            supervise(current);
            return;
          } catch (error) {
            onError(error, 'ingress: starting the worker again');
          }
        }
      })();
    });
  };
  supervise(current);

  let stopped: Promise<void> | undefined;
  const stop = () =>
    (stopped ??= (async () => {
      stopping = true;
      await restarting;
      const { worker, exit } = current;
      worker.postMessage({ type: 'stop' } satisfies RuntimeToIngress);
      const timer = setTimeout(() => void worker.terminate(), STOP_TIMEOUT_MS);
      await exit;
      clearTimeout(timer);
      for (const resolve of waiting.values()) resolve(emptySnapshot());
      waiting.clear();
      await rm(channel.dir, { recursive: true, force: true });
    })());
  return {
    url,
    forward,
    snapshot: () =>
      stopping
        ? Promise.resolve(emptySnapshot())
        : new Promise<InboxSnapshot>((resolve) => {
            const id = nextId++;
            waiting.set(id, resolve);
            current.worker.postMessage({ type: 'snapshot', id } satisfies RuntimeToIngress);
            // A worker that ends before it answers: the snapshot is empty rather than never.
            void current.exit.then(() => {
              if (waiting.delete(id)) resolve(emptySnapshot());
            });
          }),
    stop,
  };
}

const RESTART_DELAY_MS = 1_000;
/** The ingress thread's young generation: each request makes short-lived garbage; a larger nursery means fewer scavenges (the runtime thread keeps its small one). */
const YOUNG_GENERATION_MB = 32;

const emptySnapshot = (): InboxSnapshot => ({ codes: {}, accepted: 0, duplicates: 0, shed: 0, buckets: [], sum: 0, count: 0 });
