/**
 * BullMQ doing the same work as the baseline: a worker (concurrency 50) takes pre-filled
 * jobs, runs the verify-and-sign handler and adds the signed reply as a job to a reply
 * queue. Redis is a child `redis-server` of this run with AOF `everysec` (the durable
 * setting; the machine's own Redis has no persistence), on a free loopback port, stopped
 * and removed afterwards. Skipped with a note when `redis-server` is missing.
 *
 *   npx tsx bench/bullmq.ts [--quick] [--json]
 */
import { spawn } from 'node:child_process';
import { Queue, Worker, createBunRedisClient } from 'bullmq';
import { makeEnvelopes, verifyAndSign } from './fixtures.ts';
import { RespClient } from './resp-client.ts';
import { freePort, isMain, makeTempDir, median, pollUntil, progress, removeTempDir, runAsScript, trackChild, type BenchOptions, type BenchResult, cpuWindow } from './support.ts';

export const BULLMQ_CONCURRENCY = 50;
const ADD_CHUNK = 500;

export interface RedisServer {
  readonly port: number;
  readonly version: string;
  /** The redis-server child's pid (its CPU is measured as the broker's). */
  readonly pid: number;
  stop(): Promise<void>;
}

/** A `redis-server` child with AOF everysec and no RDB snapshots, in a temp dir; `undefined` and a reason when it cannot start. */
export async function startRedis(): Promise<RedisServer | { readonly skipped: string }> {
  const dir = await makeTempDir('redis');
  const port = await freePort();
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--appendonly', 'yes', '--appendfsync', 'everysec', '--dir', dir, '--save', '', '--protected-mode', 'yes'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  trackChild(child);
  let log = '';
  child.stdout.on('data', (chunk: Buffer) => (log = (log + chunk.toString()).slice(-4000)));
  child.stderr.on('data', (chunk: Buffer) => (log = (log + chunk.toString()).slice(-4000)));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
    await removeTempDir(dir);
  };
  const failed = await new Promise<string | undefined>((resolve) => {
    child.once('error', (error: NodeJS.ErrnoException) => resolve(error.code === 'ENOENT' ? 'redis-server is not on the PATH' : error.message));
    child.once('exit', (code) => resolve(`redis-server exited with ${code}: ${log.trim().split('\n').slice(-3).join(' / ')}`));
    void pollUntil(() => /Ready to accept connections/.test(log), { timeoutMs: 10_000, intervalMs: 20, what: 'redis-server to be ready' }).then(
      () => resolve(undefined),
      (error: Error) => resolve(error.message),
    );
  });
  if (failed) {
    await stop();
    return { skipped: failed };
  }
  const version = /v=(\d+\.\d+\.\d+)/.exec(log)?.[1] ?? /Redis version=(\d+\.\d+\.\d+)/.exec(log)?.[1] ?? 'unknown';
  return { port, version, pid: child.pid ?? -1, stop };
}

/** BullMQ's adapter around the bench RESP client. BullMQ does not close a client it was given: the caller does. */
function connection(port: number, clients: ReturnType<typeof createBunRedisClient>[]) {
  const client = createBunRedisClient(new RespClient('127.0.0.1', port));
  client.on('error', () => undefined); // a lost connection fails the run through its pending commands
  clients.push(client);
  return client;
}

/** Messages per second of a BullMQ worker draining `payloads` through `handler`, each adding a reply job. */
export async function drainBullmq(port: number, payloads: readonly string[], handler: (data: string) => string | Promise<string>, round: string): Promise<number> {
  const inName = `bench-in-${round}-${process.pid}`;
  const outName = `bench-out-${round}-${process.pid}`;
  const clients: ReturnType<typeof createBunRedisClient>[] = [];
  const inQueue = new Queue(inName, { connection: connection(port, clients) });
  const outQueue = new Queue(outName, { connection: connection(port, clients) });
  let worker: Worker | undefined;
  try {
    for (let i = 0; i < payloads.length; i += ADD_CHUNK) {
      await inQueue.addBulk(payloads.slice(i, i + ADD_CHUNK).map((payload) => ({ name: 'hello', data: { payload }, opts: { removeOnComplete: true, removeOnFail: 1000 } })));
    }
    let done = 0;
    let failure: Error | undefined;
    let finish: () => void = () => undefined;
    const finished = new Promise<void>((resolve) => (finish = resolve));
    worker = new Worker(
      inName,
      async (job) => {
        const reply = await handler((job.data as { payload: string }).payload);
        await outQueue.add('reply', { payload: reply }, { removeOnComplete: true });
      },
      { connection: connection(port, clients), concurrency: BULLMQ_CONCURRENCY, autorun: false },
    );
    worker.on('completed', () => {
      if (++done === payloads.length) finish();
    });
    worker.on('failed', (_job, error) => {
      failure ??= error;
      finish();
    });
    const started = performance.now();
    const stopCpu = cpuWindow();
    void worker.run();
    await finished;
    stopCpu();
    const rate = done / ((performance.now() - started) / 1000);
    if (failure) throw new Error(`a BullMQ job failed: ${failure.message}`);
    return rate;
  } finally {
    await worker?.close();
    await inQueue.obliterate({ force: true }).catch(() => undefined);
    await outQueue.obliterate({ force: true }).catch(() => undefined);
    await inQueue.close();
    await outQueue.close();
    await Promise.all(clients.map((c) => c.quit()));
  }
}

export async function run(options: BenchOptions): Promise<BenchResult> {
  const count = options.quick ? 1_000 : 5_000;
  const rounds = options.quick ? 1 : 3;
  const redis = await startRedis();
  if ('skipped' in redis) return { name: 'bullmq', results: {}, notes: [`skipped: ${redis.skipped}`] };
  try {
    const rates: number[] = [];
    for (let round = 0; round < rounds; round++) {
      progress(options, `bullmq: round ${round + 1}/${rounds}`);
      rates.push(await drainBullmq(redis.port, makeEnvelopes(count).payloads, verifyAndSign, String(round)));
    }
    return {
      name: `bullmq: worker (concurrency ${BULLMQ_CONCURRENCY}) verify → sign → add reply job (${count} × ${rounds}, median)`,
      results: { 'bullmq (jobs/s)': median(rates) },
      notes: [`redis-server ${redis.version}, AOF everysec, no RDB`],
    };
  } finally {
    await redis.stop();
  }
}

if (isMain(import.meta.url)) await runAsScript(run);
