/**
 * Signature work (Ed25519, or RSA PKCS#1 v1.5 with SHA-256) on a pool of worker threads,
 * so verify and sign use every core instead of the one the event loop runs on.
 *
 * - Calls are queued and sent in batches: one `postMessage` per worker carries up to
 *   `maxBatch` operations packed into two transferred buffers (no per-call message, no
 *   per-call structured clone of small arrays).
 * - Keys are sent to a worker once, under an id, and parsed there once: later calls with
 *   the same DER bytes send only the id.
 * - A worker takes a new batch while at most one other is in flight, so batches grow with
 *   the load and a quiet pool answers at once.
 * - Idle workers do not keep the process alive.
 *
 * The worker is a plain `.mjs` file next to this one, so it loads the same under node, tsx
 * and vitest without a TypeScript loader.
 *
 * @example
 * ```ts
 * const pool = createCryptoPool();
 * const spki = publicKey.key.export({ format: 'der', type: 'spki' });     // once per key
 * const ok = await pool.verify(canonical, signature, spki, 'ed25519');
 * const pkcs8 = privateKey.key.export({ format: 'der', type: 'pkcs8' });  // once per key
 * const signature = await pool.sign(canonical, pkcs8, 'ed25519');
 * await pool.close();
 * ```
 */
import type { KeyObject } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { CryptoPoolError } from '../errors/delivery-errors.ts';

export type CryptoAlgorithm = 'ed25519' | 'rsa';

/** Options of {@link createCryptoPool}. */
export interface CryptoPoolOptions {
  /** Worker threads (default `os.availableParallelism()`), started at the first call: an idle pool costs no threads. */
  readonly size?: number;
  /** Most operations in one message to a worker (default 256). */
  readonly maxBatch?: number;
  /** Distinct keys remembered before the key caches are dropped and refilled (default 4096). */
  readonly maxKeys?: number;
}

/** Counters, for benchmarks and metrics. */
export interface CryptoPoolStats {
  readonly size: number;
  /** Operations completed (verify and sign). */
  readonly operations: number;
  /** Messages sent to workers. */
  readonly batches: number;
  /** Operations waiting to be sent to a worker. */
  readonly queued: number;
  /** Worker threads running (0 until the first call). */
  readonly threads: number;
}

export interface CryptoPool {
  /** True when `signature` verifies over `canonical` with the key. Rejects only for an unusable key or a closed pool. */
  verify(canonical: Uint8Array, signature: Uint8Array, publicKeySpkiDer: Uint8Array, algorithm: CryptoAlgorithm): Promise<boolean>;
  /** The signature over `canonical` (64 bytes for Ed25519). */
  sign(canonical: Uint8Array, privateKeyPkcs8Der: Uint8Array, algorithm: CryptoAlgorithm): Promise<Uint8Array>;
  readonly size: number;
  stats(): CryptoPoolStats;
  /** Refuses new calls, finishes the ones already made, stops the workers. Idempotent. */
  close(): Promise<void>;
}

export { CryptoPoolError };

const VERIFY = 0;
const SIGN = 1;
const MAX_IN_FLIGHT_PER_WORKER = 2;
const MAX_CONSECUTIVE_FAILURES = 5;
const workerUrl = new URL('./crypto-worker.mjs', import.meta.url);

interface Job {
  readonly op: typeof VERIFY | typeof SIGN;
  readonly keyId: number;
  readonly key: KeyDef;
  readonly data: Uint8Array;
  readonly signature: Uint8Array | undefined;
  readonly resolve: (value: boolean | Uint8Array) => void;
  readonly reject: (error: Error) => void;
}

interface KeyDef {
  readonly id: number;
  readonly kind: 0 | 1;
  readonly alg: 0 | 1;
  readonly der: Uint8Array;
}

interface Slot {
  worker: Worker;
  /** Key ids this worker has been sent. */
  readonly known: Set<number>;
  /** Batches sent and not answered. */
  readonly inFlight: Map<number, Job[]>;
  reset: boolean;
}

interface WorkerReply {
  readonly batch: number;
  readonly status: Uint8Array;
  readonly sigEnds: Uint32Array;
  readonly sigs: Uint8Array;
  readonly errors?: Record<number, string>;
}

/** A pool of worker threads for signature work; the threads start with the first call. */
export function createCryptoPool(options: CryptoPoolOptions = {}): CryptoPool {
  const size = Math.max(1, Math.floor(options.size ?? availableParallelism()));
  const maxBatch = Math.max(1, Math.floor(options.maxBatch ?? 256));
  const maxKeys = Math.max(1, Math.floor(options.maxKeys ?? 4096));
  const keyIds = new Map<string, KeyDef>();
  let nextKeyId = 1;
  let nextBatch = 1;
  let queue: Job[] = [];
  let flushScheduled = false;
  let operations = 0;
  let batches = 0;
  let failures = 0;
  let broken: Error | undefined;
  let closing: Promise<void> | undefined;
  let drained: (() => void) | undefined;
  let stopped = false;
  const slots: Slot[] = [];
  const gone = new WeakSet<Worker>();

  function spawn(slot?: Slot): Slot {
    const worker = new Worker(workerUrl, { execArgv: [] });
    worker.unref();
    const s: Slot = slot ?? { worker, known: new Set(), inFlight: new Map(), reset: false };
    s.worker = worker;
    s.known.clear();
    worker.on('message', (reply: WorkerReply) => onReply(s, reply));
    worker.on('error', (error) => onFailure(s, worker, error));
    worker.on('exit', (code) => onFailure(s, worker, new CryptoPoolError(`a crypto worker exited with code ${code}`)));
    return s;
  }

  function onReply(slot: Slot, reply: WorkerReply): void {
    const jobs = slot.inFlight.get(reply.batch);
    if (!jobs) return;
    slot.inFlight.delete(reply.batch);
    if (slot.inFlight.size === 0) slot.worker.unref();
    failures = 0;
    for (let i = 0; i < jobs.length; i++) {
      const job = jobs[i]!;
      const status = reply.status[i];
      if (status === 2) job.reject(new CryptoPoolError(reply.errors?.[i] ?? 'the crypto worker failed'));
      else if (job.op === VERIFY) job.resolve(status === 1);
      else job.resolve(reply.sigs.slice(i === 0 ? 0 : reply.sigEnds[i - 1]!, reply.sigEnds[i]!));
    }
    operations += jobs.length;
    dispatch();
  }

  function onFailure(slot: Slot, worker: Worker, error: Error): void {
    if (stopped || gone.has(worker)) return; // closed by us, or already handled ('error' comes before 'exit')
    gone.add(worker);
    const lost = [...slot.inFlight.values()].flat();
    slot.inFlight.clear();
    void worker.terminate();
    failures++;
    if (failures >= MAX_CONSECUTIVE_FAILURES) broken ??= new CryptoPoolError(`the crypto workers keep failing: ${error.message}`, { cause: error });
    for (const job of lost) job.reject(error instanceof CryptoPoolError ? error : new CryptoPoolError(`a crypto worker failed: ${error.message}`, { cause: error }));
    if (broken) {
      for (const job of queue) job.reject(broken);
      queue = [];
      checkDrained();
      return;
    }
    spawn(slot);
    dispatch();
  }

  function keyFor(der: Uint8Array, kind: 0 | 1, algorithm: CryptoAlgorithm): KeyDef {
    const alg = algorithm === 'ed25519' ? 0 : 1;
    const cacheKey = `${kind}${alg}${Buffer.from(der.buffer, der.byteOffset, der.byteLength).toString('latin1')}`;
    let def = keyIds.get(cacheKey);
    if (def) return def;
    if (keyIds.size >= maxKeys) {
      // Too many distinct keys: forget them all, here and in every worker.
      keyIds.clear();
      for (const slot of slots) {
        slot.known.clear();
        slot.reset = true;
      }
    }
    def = { id: nextKeyId++, kind, alg, der: Uint8Array.from(der) };
    keyIds.set(cacheKey, def);
    return def;
  }

  function enqueue(job: Job): void {
    queue.push(job);
    if (!flushScheduled) {
      flushScheduled = true;
      // After the current I/O callbacks: everything they asked for goes in one batch.
      setImmediate(() => {
        flushScheduled = false;
        dispatch();
      });
    }
  }

  function send(slot: Slot, jobs: Job[]): void {
    let total = 0;
    for (const job of jobs) total += job.data.byteLength + (job.signature?.byteLength ?? 0);
    const bytes = new Uint8Array(total);
    const ops = new Int32Array(jobs.length * 6);
    const keys: KeyDef[] = [];
    let at = 0;
    for (let i = 0; i < jobs.length; i++) {
      const job = jobs[i]!;
      if (!slot.known.has(job.keyId)) {
        slot.known.add(job.keyId);
        keys.push(job.key);
      }
      const o = i * 6;
      ops[o] = job.op;
      ops[o + 1] = job.keyId;
      ops[o + 2] = at;
      ops[o + 3] = job.data.byteLength;
      bytes.set(job.data, at);
      at += job.data.byteLength;
      if (job.signature) {
        ops[o + 4] = at;
        ops[o + 5] = job.signature.byteLength;
        bytes.set(job.signature, at);
        at += job.signature.byteLength;
      }
    }
    const batch = nextBatch++;
    if (slot.inFlight.size === 0) slot.worker.ref();
    slot.inFlight.set(batch, jobs);
    batches++;
    const message = { batch, ops, bytes, ...(keys.length ? { keys } : {}), ...(slot.reset ? { reset: true } : {}) };
    slot.reset = false;
    slot.worker.postMessage(message, [ops.buffer, bytes.buffer]);
  }

  /** Sends queued work to the workers that have room, spreading it evenly. */
  function dispatch(): void {
    // The workers start with the first work: a runtime that signs nothing (or not yet) holds no threads.
    if (queue.length > 0 && slots.length === 0 && !stopped) for (let i = 0; i < size; i++) slots.push(spawn());
    while (queue.length > 0) {
      const open = slots.filter((s) => s.inFlight.size < MAX_IN_FLIGHT_PER_WORKER);
      if (open.length === 0) break;
      open.sort((a, b) => a.inFlight.size - b.inFlight.size);
      const chunk = Math.min(maxBatch, Math.ceil(queue.length / open.length));
      for (const slot of open) {
        if (queue.length === 0) break;
        send(slot, queue.splice(0, chunk));
      }
    }
    checkDrained();
  }

  function checkDrained(): void {
    if (drained && queue.length === 0 && slots.every((s) => s.inFlight.size === 0)) drained();
  }

  function refuse(): Error | undefined {
    if (broken) return broken;
    if (closing) return new CryptoPoolError('the crypto pool is closed');
    return undefined;
  }

  return {
    size,
    verify(canonical, signature, publicKeySpkiDer, algorithm) {
      const refused = refuse();
      if (refused) return Promise.reject(refused);
      return new Promise<boolean>((resolve, reject) => {
        const key = keyFor(publicKeySpkiDer, 0, algorithm);
        enqueue({ op: VERIFY, keyId: key.id, key, data: canonical, signature, resolve: resolve as Job['resolve'], reject });
      });
    },
    sign(canonical, privateKeyPkcs8Der, algorithm) {
      const refused = refuse();
      if (refused) return Promise.reject(refused);
      return new Promise<Uint8Array>((resolve, reject) => {
        const key = keyFor(privateKeyPkcs8Der, 1, algorithm);
        enqueue({ op: SIGN, keyId: key.id, key, data: canonical, signature: undefined, resolve: resolve as Job['resolve'], reject });
      });
    },
    stats: () => ({ size, operations, batches, queued: queue.length, threads: slots.length }),
    close() {
      closing ??= (async () => {
        await new Promise<void>((resolve) => {
          drained = resolve;
          dispatch();
        });
        stopped = true;
        await Promise.all(slots.map((s) => s.worker.terminate()));
      })();
      return closing;
    },
  };
}

/**
 * How many crypto workers a `crypto.workers` setting means here: `auto` is one per core, and none
 * on one core (the event loop would only hand its work to a thread that shares its core).
 */
export function cryptoWorkerCount(workers: 'auto' | number, cores = availableParallelism()): number {
  if (workers !== 'auto') return workers;
  return cores >= 2 ? cores : 0;
}

/** The pool as the envelope code's signer and verifier, for parsed keys. */
export interface CryptoSigner {
  verify(bytes: Uint8Array, signature: Uint8Array, key: { readonly algorithm: CryptoAlgorithm; readonly key: KeyObject }): Promise<boolean>;
  sign(bytes: Uint8Array, key: { readonly algorithm: CryptoAlgorithm; readonly key: KeyObject }): Promise<Uint8Array>;
}

/**
 * Adapts a pool to parsed keys: each `KeyObject` is exported to SPKI / PKCS#8 DER once (the
 * keyring and the DNS cache keep their key objects, so the export is remembered).
 */
export function cryptoSigner(pool: CryptoPool): CryptoSigner {
  const ders = new WeakMap<KeyObject, Uint8Array>();
  const derOf = (key: KeyObject): Uint8Array => {
    let der = ders.get(key);
    if (!der) {
      der = key.type === 'private' ? key.export({ format: 'der', type: 'pkcs8' }) : key.export({ format: 'der', type: 'spki' });
      ders.set(key, der);
    }
    return der;
  };
  return {
    verify: (bytes, signature, key) => pool.verify(bytes, signature, derOf(key.key), key.algorithm),
    sign: (bytes, key) => pool.sign(bytes, derOf(key.key), key.algorithm),
  };
}
