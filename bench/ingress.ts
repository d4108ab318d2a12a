/**
 * Ingress latency (issue 13): `POST /inbox` p50 / p99 / p99.9 at 500, 1000 and 2000/s, beside
 * the bare JetStream publish (publish → PubAck) of the same kind of payloads at the same rates,
 * in the same run, with the runtime processing everything it can behind both. Once with the
 * inbox on the runtime's thread (`ingress: 'inline'`, the design before issue 13) and once on
 * its own worker thread (`ingress: 'worker'`, what `mailroom start` runs, with envelope
 * processing at a lower OS priority: `processingNice` 10, BENCH_PROCESSING_NICE=0 to leave it).
 *
 * - **evenly paced** (open loop, the default): request i is due at start + i / rate and is sent
 *   then whether or not earlier ones were answered (a keep-alive `node:http` agent for HTTP,
 *   concurrent publishes for NATS); its latency counts from its due time, so a late start is
 *   not hidden (no coordinated omission).
 * - BENCH_INGRESS_SCENARIOS=cannon,light,paced adds **autocannon** (`overallRate`,
 *   `CONNECTIONS` connections: bursts of `CONNECTIONS` concurrent requests at the start of each
 *   second; the bare publisher copies that schedule) and autocannon with a **light consumer**
 *   (envelopes for a domain the runtime does not host: discarded without signature work).
 * - BENCH_INGRESS=worker (or inline) measures one mode only.
 *
 * Besides the latencies: the accepted rate, and the processing rate (envelopes settled ÷ time
 * from the first post to the last settled), worker ÷ inline. The runtime runs in its own
 * process (as deployed). Every request carries a distinct, pre-generated signed envelope. The
 * inbox is drained between measurements.
 *
 *   npx tsx bench/ingress.ts [--quick] [--json]
 */
import { readdirSync, readFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { parseConfig } from '../src/config/index.ts';
import { startMailroom } from '../src/mailroom/start-mailroom.ts';
import { connectNats } from '../src/transport/connect.ts';
import { createNames } from '../src/transport/names.ts';
import { spawnNatsServer } from '../src/transport/spawn-nats-server.ts';
import { startRuntimeChild } from './child.ts';
import { makeEnvelopes, SENDER, type Envelopes } from './fixtures.ts';
import { MAILROOM_CONCURRENCY, mailroomInput } from './pipeline.ts';
import { cryptoWorkerCount } from '../src/runtime/crypto-pool.ts';
import { Cleanup, isMain, makeTempDir, percentile, pollUntil, progress, removeTempDir, runAsScript, type BenchOptions, type BenchResult, type SummaryRow } from './support.ts';

export const RATES = [500, 1000, 2000] as const;
/** autocannon connections, and bare publishers on the same schedule. */
export const CONNECTIONS = 8;
/** A domain the runtime does not host: what it receives for it is discarded cheaply (not-addressed-to-us). */
const ELSEWHERE = 'elsewhere.example';

interface Latencies {
  readonly p50: number;
  readonly p99: number;
  readonly p999: number;
  /** Requests per second actually achieved. */
  readonly achieved: number;
}

/** `elapsed`: seconds from the first request to the last answer. At `rate`, N requests need N / rate seconds. */
function summarize(samples: number[], elapsed: number, rate: number): Latencies {
  samples.sort((a, b) => a - b);
  const achieved = samples.length / Math.max(elapsed, samples.length / rate);
  return { p50: percentile(samples, 50), p99: percentile(samples, 99), p999: percentile(samples, 99.9), achieved };
}

type Send = (i: number) => Promise<void>;

const TICK_MS = 10; // USER_HZ 100: /proc reports CPU time in 10 ms ticks

/** CPU time (ms) of a process's threads from /proc: the main thread (the runtime's), and every other (the ingress worker, V8 and libuv helpers). Linux only; zeros elsewhere. */
function threadCpu(pid: number): { main: number; others: number } {
  let main = 0;
  let others = 0;
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      const fields = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8').split(') ')[1]!.split(' ');
      const ms = (Number(fields[11]) + Number(fields[12])) * TICK_MS;
      if (Number(tid) === pid) main += ms;
      else others += ms;
    }
  } catch (_) {
    // Not Linux, or the process is gone.
  }
  return { main, others };
}

/** The bare publisher on autocannon's schedule: `CONNECTIONS` lanes, each sending its quota per second back to back. */
async function burstSchedule(count: number, rate: number, send: Send): Promise<Latencies> {
  const samples: number[] = [];
  let next = 0;
  const started = performance.now();
  const lane = async (quota: number) => {
    for (let second = 0; next < count; second++) {
      for (let sent = 0; sent < quota && next < count; sent++) {
        const i = next++;
        const t0 = performance.now();
        await send(i);
        samples.push(performance.now() - t0);
      }
      const wait = started + (second + 1) * 1000 - performance.now();
      if (wait > 0 && next < count) await new Promise((resolve) => setTimeout(resolve, wait));
    }
  };
  const quotas = Array.from({ length: CONNECTIONS }, (_, i) => Math.floor(rate / CONNECTIONS) + (i < rate % CONNECTIONS ? 1 : 0));
  await Promise.all(quotas.map(lane));
  return summarize(samples, (performance.now() - started) / 1000, rate);
}

/** Open loop: request i is sent at its due time, start + i / rate, and timed from then. */
async function evenSchedule(count: number, rate: number, send: Send): Promise<Latencies> {
  const samples: number[] = [];
  const inFlight = new Set<Promise<void>>();
  let failure: unknown;
  const started = performance.now() + 5;
  for (let i = 0; i < count; ) {
    const now = performance.now();
    while (i < count && started + (i * 1000) / rate <= now) {
      const due = started + (i * 1000) / rate;
      const p: Promise<void> = send(i).then(
        () => void samples.push(performance.now() - due),
        (error: unknown) => void (failure ??= error),
      );
      inFlight.add(p);
      void p.finally(() => inFlight.delete(p));
      i++;
    }
    if (failure) break;
    const wait = started + (i * 1000) / rate - performance.now();
    // At least 1 ms: a busy wait here would take a core from the runtime and nats-server.
    await new Promise((resolve) => setTimeout(resolve, Math.max(1, Math.floor(wait))));
  }
  await Promise.all(inFlight);
  if (failure) throw failure instanceof Error ? failure : new Error(String(failure));
  return summarize(samples, (performance.now() - started) / 1000, rate);
}

/** `POST /inbox` with autocannon at `rate`, one distinct envelope per request. */
async function autocannonLatencies(url: string, bodies: readonly string[], rate: number): Promise<Latencies> {
  let next = 0;
  const samples: number[] = [];
  const failures = new Map<number, number>();
  // From the first request sent to the last answer (autocannon's own start-up is not the server's time).
  let firstSent = Infinity;
  let lastAnswer = 0;
  await new Promise<void>((resolve, reject) => {
    const instance = autocannon(
      {
        url,
        connections: CONNECTIONS,
        overallRate: rate,
        // setupRequest also runs once per connection before its first request: keep spares.
        amount: bodies.length - CONNECTIONS * 2,
        timeout: 10,
        requests: [
          {
            method: 'POST',
            path: '/inbox',
            headers: { 'content-type': 'application/json' },
            setupRequest: (req) => ({ ...req, body: bodies[next++ % bodies.length]! }),
          },
        ],
      },
      (error: unknown) => (error ? reject(error instanceof Error ? error : new Error(String(error))) : resolve()),
    );
    instance.on('response', (_client, statusCode, _bytes, responseTime) => {
      const now = performance.now();
      firstSent = Math.min(firstSent, now - responseTime);
      lastAnswer = now;
      if (statusCode === 202) samples.push(responseTime);
      else failures.set(statusCode, (failures.get(statusCode) ?? 0) + 1);
    });
  });
  if (failures.size > 0) throw new Error(`ingress: answers other than 202: ${JSON.stringify(Object.fromEntries(failures))}`);
  return summarize(samples, (lastAnswer - firstSent) / 1000, rate);
}

/** One keep-alive HTTP POST; resolves on a 202. */
function httpPoster(url: string): { post: (body: string) => Promise<void>; close: () => void } {
  const agent = new Agent({ keepAlive: true, maxSockets: 256 });
  const target = new URL('/inbox', url);
  const post = (body: string) =>
    new Promise<void>((resolve, reject) => {
      const req = request(
        { host: target.hostname, port: target.port, path: target.pathname, method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } },
        (res) => {
          res.resume();
          res.once('end', () => (res.statusCode === 202 ? resolve() : reject(new Error(`ingress: POST /inbox answered ${res.statusCode}`))));
        },
      );
      req.once('error', reject);
      req.end(body);
    });
  return { post, close: () => agent.destroy() };
}

/** Where `POST /inbox` runs in the runtime process: `inline` (the runtime's thread, the old design) and `worker` (its own thread, issue 13). */
type IngressMode = 'inline' | 'worker';
const MODES: readonly IngressMode[] = (process.env.BENCH_INGRESS ?? 'inline,worker').split(',').map((m) => m.trim()) as IngressMode[];
/** The schedules measured: `paced` by default; BENCH_INGRESS_SCENARIOS=cannon,light,paced adds autocannon's bursts and the light consumer. */
const SCENARIOS = (process.env.BENCH_INGRESS_SCENARIOS ?? 'paced').split(',').map((m) => m.trim());

export async function run(options: BenchOptions): Promise<BenchResult> {
  const seconds = options.quick ? 3 : 10;
  const scope = new Cleanup();
  try {
    const dir = await makeTempDir('ingress');
    scope.defer(() => removeTempDir(dir));
    const server = await spawnNatsServer({ args: ['-js', '-sd', join(dir, 'nats'), '-a', '127.0.0.1', '-p', '-1'] });
    scope.defer(() => server.stop());
    const prefix = 'ingress';
    const names = createNames(prefix);
    const input = await mailroomInput(server.url, dir, prefix, { http: { port: 0, host: '127.0.0.1' } });
    await (await startMailroom(parseConfig(input, { baseDir: dir, env: {} }), { http: false, outboxWorker: false })).stop();
    const nc = await connectNats({ url: server.url });
    scope.defer(() => nc.close());
    const js = jetstream(nc);
    const jsm = await jetstreamManager(nc);
    const publisher = (envelopes: Envelopes): Send => async (i) => {
      await js.publish(names.inboxSubject(envelopes.to, SENDER), envelopes.payloads[i]!, { msgID: names.inboxMsgId(SENDER, envelopes.correlations[i]!, envelopes.proofs[i]!.hash, envelopes.proofs[i]!.signature) });
    };
    const drained = () =>
      pollUntil(async () => (await jsm.streams.info(names.streams.inbox)).state.messages === 0, { timeoutMs: 180_000, intervalMs: 50, what: 'the inbox to drain' });
    // The runtime process verifies and signs as `mailroom start` does in worker mode (crypto.workers
    // auto: a pool of one thread per core on two or more cores); inline mode on the event loop, as
    // before issue 18. BENCH_CRYPTO_POOL=1 / =0: the pool in both modes / in neither.
    const pooled = (mode: IngressMode): boolean => (process.env.BENCH_CRYPTO_POOL === '1' ? true : process.env.BENCH_CRYPTO_POOL === '0' ? false : mode === 'worker' && cryptoWorkerCount('auto') > 0);

    const results: Record<string, number> = {};
    const summary: SummaryRow[] = [];
    const triple = (l: Latencies, rate: number) =>
      `${l.p50.toFixed(2)} / ${l.p99.toFixed(2)} / ${l.p999.toFixed(2)} ms${l.achieved < 0.97 * rate ? ` (only ${Math.round(l.achieved)}/s achieved)` : ''}`;
    /** Envelopes processed per second, by mode and rate: from the first post to the last envelope settled. */
    const processing = new Map<string, number>();

    for (const mode of MODES) {
      progress(options, `ingress (${mode}): starting the runtime process`);
      const child = await startRuntimeChild({ input, dir, http: true, outboxWorker: false, ingress: mode, ...(pooled(mode) ? { cryptoPool: true } : {}) }, `ingress-${mode}`);
      try {
        const poster = httpPoster(child.url);
        try {
          const httpSender = (envelopes: Envelopes): Send => (i) => poster.post(envelopes.payloads[i]!);
          /** Waits until the runtime has settled `count` more than `from`; returns when (performance.now()). */
          const settledBy = async (from: number, count: number) => {
            await pollUntil(() => child.settled() >= from + count, { timeoutMs: 300_000, intervalMs: 20, what: `${count} envelopes settled` });
            return performance.now();
          };

          // Warm-up, unmeasured: the runtime's JIT, the connections, the KV buckets.
          progress(options, `ingress (${mode}): warm-up`);
          if (SCENARIOS.includes('cannon') || SCENARIOS.includes('light')) await autocannonLatencies(child.url, makeEnvelopes(400).payloads, 200);
          await evenSchedule(400, 200, httpSender(makeEnvelopes(400)));
          await evenSchedule(400, 200, publisher(makeEnvelopes(400)));
          await drained();

          const scenarios = [
            { key: 'cannon', what: `autocannon (${CONNECTIONS} conn.)`, make: (n: number) => makeEnvelopes(n), http: (e: Envelopes, rate: number) => autocannonLatencies(child.url, e.payloads, rate), bare: burstSchedule },
            { key: 'light', what: 'autocannon, light consumer', make: (n: number) => makeEnvelopes(n, 0, ELSEWHERE), http: (e: Envelopes, rate: number) => autocannonLatencies(child.url, e.payloads, rate), bare: burstSchedule },
            { key: 'paced', what: 'evenly paced', make: (n: number) => makeEnvelopes(n), http: (e: Envelopes, rate: number) => evenSchedule(e.payloads.length, rate, httpSender(e)), bare: evenSchedule },
          ].filter((scenario) => SCENARIOS.includes(scenario.key));
          for (const rate of RATES) {
            const n = rate * seconds;
            for (const scenario of scenarios) {
              const label = `${mode}, ${scenario.what}`;
              progress(options, `ingress (${mode}): ${rate}/s, ${scenario.what}: POST /inbox for ${seconds} s`);
              const envelopes = scenario.make(n + CONNECTIONS * 2);
              const before = child.settled();
              const cpu0 = threadCpu(child.pid);
              const t0 = performance.now();
              const http = await scenario.http(envelopes, rate);
              const accepted = scenario.key === 'paced' ? n : envelopes.payloads.length - CONNECTIONS * 2;
              const done = await settledBy(before, accepted);
              await drained();
              const cpu1 = threadCpu(child.pid);
              const cpuPer = { main: ((cpu1.main - cpu0.main) * 1000) / accepted, others: ((cpu1.others - cpu0.others) * 1000) / accepted };
              const processed = accepted / ((done - t0) / 1000);
              if (scenario.key === 'paced') processing.set(`${mode}@${rate}`, processed);
              progress(options, `ingress (${mode}): ${rate}/s, ${scenario.what}: bare JetStream publish for ${seconds} s`);
              const bare = await scenario.bare(n, rate, publisher(scenario.make(n)));
              await drained();
              for (const [what, l] of [['POST /inbox', http], ['bare publish', bare]] as const) {
                const key = `${what}, ${label}, @${rate}/s`;
                results[`${key} p50 (ms)`] = l.p50;
                results[`${key} p99 (ms)`] = l.p99;
                results[`${key} p99.9 (ms)`] = l.p999;
                results[`${key} achieved (req/s)`] = l.achieved;
              }
              results[`processing, ${label}, @${rate}/s (envelopes/s)`] = processed;
              results[`runtime process CPU per envelope, ${label}, @${rate}/s: main thread (µs)`] = cpuPer.main;
              results[`runtime process CPU per envelope, ${label}, @${rate}/s: other threads (µs)`] = cpuPer.others;
              const ratio = http.p99 / bare.p99;
              summary.push(
                { figure: `ingress @${rate}/s, ${label}: POST /inbox p50 / p99 / p99.9`, value: triple(http, rate), unit: '' },
                { figure: `ingress @${rate}/s, ${label}: bare JetStream publish p50 / p99 / p99.9`, value: triple(bare, rate), unit: '' },
                {
                  figure: `ingress @${rate}/s, ${label}: POST /inbox p99 ÷ bare publish p99`,
                  value: ratio,
                  unit: '×',
                  ...(scenario.key === 'paced' && mode === 'worker' ? { goal: '≤ 2 × bare publish p99', met: ratio <= 2 } : {}),
                },
                { figure: `ingress @${rate}/s, ${label}: accepted`, value: http.achieved, unit: 'req/s', ...(scenario.key === 'paced' && mode === 'worker' ? { goal: 'the offered rate', met: http.achieved >= 0.97 * rate } : {}) },
                { figure: `ingress @${rate}/s, ${label}: processed, first post to last settled`, value: processed, unit: 'envelopes/s' },
                { figure: `ingress @${rate}/s, ${label}: runtime CPU per envelope, main thread / other threads`, value: `${Math.round(cpuPer.main)} / ${Math.round(cpuPer.others)} µs`, unit: '' },
              );
            }
          }
        } finally {
          poster.close();
        }
      } finally {
        await child.stop();
      }
    }
    if (MODES.includes('inline') && MODES.includes('worker')) {
      for (const rate of RATES) {
        const inline = processing.get(`inline@${rate}`);
        const worker = processing.get(`worker@${rate}`);
        if (inline === undefined || worker === undefined) continue;
        const ratio = worker / inline;
        summary.push({ figure: `ingress @${rate}/s, evenly paced: processing rate, worker ÷ inline`, value: ratio, unit: '×', versus: 'inline', goal: '≥ 0.9 × inline (no more than a 10 % drop)', met: ratio >= 0.9 });
      }
    }
    return {
      name: `ingress latency: POST /inbox beside bare JetStream publish, ${seconds} s per rate; ingress ${MODES.join(' and ')}`,
      results,
      notes: [
        'ingress inline: POST /inbox on the runtime thread, beside envelope processing (the design before issue 13); worker: on its own thread with its own NATS connection (`ingress: \'worker\'`, what `mailroom start` runs)',
        'evenly paced: open loop, request i due at i ÷ rate, timed from its due time; keep-alive node:http agent / concurrent JetStream publishes',
        'processed: envelopes settled by the runtime ÷ seconds from the first post to the last settled (at rates above what the runtime can process, its processing rate; below, the offered rate)',
        ...(SCENARIOS.includes('cannon') ? [`autocannon: ${CONNECTIONS} connections, each sending rate ÷ ${CONNECTIONS} requests back to back from the start of every second (its overallRate); the bare publisher copies that schedule`] : []),
        ...(SCENARIOS.includes('light') ? [`light consumer: the envelopes are addressed to ${ELSEWHERE}, which the runtime does not host, so behind the ingress it only decodes, records the discard and acks`] : []),
        `the runtime runs in its own process and consumes everything that arrives (delivery.concurrency ${MAILROOM_CONCURRENCY}, outbox worker off; verify and sign ${MODES.map((m) => `${m}: ${pooled(m) ? 'on its crypto pool' : 'on the event loop'}`).join(', ')}); the load generator is this process; nats-server ${server.version}`,
      ],
      summary,
    };
  } finally {
    await scope.run();
  }
}

if (isMain(import.meta.url)) await runAsScript(run);
