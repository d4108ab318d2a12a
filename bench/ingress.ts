/**
 * Ingress latency: `POST /inbox` p50 / p99 / p99.9 at fixed rates, beside the bare
 * JetStream publish (publish → PubAck) of the same kind of payloads at the same rates, in
 * the same run, under two arrival schedules:
 *
 * 1. **autocannon** (`overallRate`, `CONNECTIONS` connections): autocannon gives each
 *    connection a quota per second and sends it back to back (one request at a time per
 *    connection) from the start of each second, so arrivals come in bursts of
 *    `CONNECTIONS` concurrent requests. The bare publisher follows the same schedule
 *    (`CONNECTIONS` publishers, the same quota each, each waiting for its PubAck). This is
 *    the figure the goal is checked on.
 * 2. **evenly paced** (open loop): request i is due at start + i / rate and is sent then
 *    whether or not earlier ones were answered (a keep-alive `node:http` agent for HTTP,
 *    concurrent publishes for NATS); its latency counts from its due time, so a late start
 *    is not hidden (no coordinated omission).
 *
 * The runtime runs in its own process (as deployed) and consumes what arrives (validation,
 * handler, signed reply): every measurement publishes into its inbox, so it does the same
 * work behind each. Every request carries a distinct, pre-generated signed envelope. The
 * inbox is drained between measurements. Latencies are per response, fractional ms
 * (autocannon's `response` event; its own histogram keeps whole ms only).
 *
 *   npx tsx bench/ingress.ts [--quick] [--json]
 */
import { Agent, request } from 'node:http';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { parseConfig } from '../src/config/index.ts';
import { startMailroom } from '../src/runtime/mailroom.ts';
import { connectNats } from '../src/transport/connect.ts';
import { createNames } from '../src/transport/names.ts';
import { spawnNatsServer } from '../src/transport/spawn-nats-server.ts';
import { startRuntimeChild } from './child.ts';
import { makeEnvelopes, SENDER, type Envelopes } from './fixtures.ts';
import { MAILROOM_CONCURRENCY, mailroomInput } from './pipeline.ts';
import { Cleanup, isMain, makeTempDir, percentile, pollUntil, progress, removeTempDir, runAsScript, type BenchOptions, type BenchResult, type SummaryRow } from './support.ts';

export const RATES = [500, 1000, 2000] as const;
/** autocannon connections, and bare publishers on the same schedule. */
export const CONNECTIONS = 8;
const GOAL_RATE = 1000;
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

    progress(options, 'ingress: starting the runtime process');
    // BENCH_CRYPTO_POOL=1: the runtime process verifies and signs on its crypto pool (`cryptoPool: true`).
    const pooled = process.env.BENCH_CRYPTO_POOL === '1';
    const child = await startRuntimeChild({ input, dir, http: true, outboxWorker: false, ...(pooled ? { cryptoPool: true } : {}) }, 'ingress');
    scope.defer(() => child.stop());
    const nc = await connectNats({ url: server.url });
    scope.defer(() => nc.close());
    const js = jetstream(nc);
    const jsm = await jetstreamManager(nc);
    const poster = httpPoster(child.url);
    scope.defer(() => poster.close());
    const publisher = (envelopes: Envelopes): Send => async (i) => {
      await js.publish(names.inboxSubject(envelopes.to, SENDER), envelopes.payloads[i]!, { msgID: names.inboxMsgId(SENDER, envelopes.correlations[i]!, envelopes.proofs[i]!.hash, envelopes.proofs[i]!.signature) });
    };
    const httpSender = (envelopes: Envelopes): Send => (i) => poster.post(envelopes.payloads[i]!);
    const drained = () =>
      pollUntil(async () => (await jsm.streams.info(names.streams.inbox)).state.messages === 0, { timeoutMs: 180_000, intervalMs: 50, what: 'the inbox to drain' });

    // Warm-up, unmeasured: the runtime's JIT, the connections, the KV buckets.
    progress(options, 'ingress: warm-up');
    await autocannonLatencies(child.url, makeEnvelopes(400).payloads, 200);
    await evenSchedule(400, 200, httpSender(makeEnvelopes(400)));
    await burstSchedule(400, 200, publisher(makeEnvelopes(400)));
    await drained();

    // Each scenario: how requests arrive, and what the runtime does with them behind the ingress.
    const scenarios = [
      { key: 'cannon', what: `autocannon (${CONNECTIONS} conn.)`, make: (n: number) => makeEnvelopes(n), http: (e: Envelopes, rate: number) => autocannonLatencies(child.url, e.payloads, rate), bare: burstSchedule },
      { key: 'light', what: 'autocannon, light consumer', make: (n: number) => makeEnvelopes(n, 0, ELSEWHERE), http: (e: Envelopes, rate: number) => autocannonLatencies(child.url, e.payloads, rate), bare: burstSchedule },
      { key: 'paced', what: 'evenly paced', make: (n: number) => makeEnvelopes(n), http: (e: Envelopes, rate: number) => evenSchedule(e.payloads.length, rate, httpSender(e)), bare: evenSchedule },
    ] as const;
    const results: Record<string, number> = {};
    const summary: SummaryRow[] = [];
    const triple = (l: Latencies, rate: number) =>
      `${l.p50.toFixed(2)} / ${l.p99.toFixed(2)} / ${l.p999.toFixed(2)} ms${l.achieved < 0.97 * rate ? ` (only ${Math.round(l.achieved)}/s achieved)` : ''}`;
    for (const rate of RATES) {
      const n = rate * seconds;
      for (const scenario of scenarios) {
        progress(options, `ingress: ${rate}/s, ${scenario.what}: POST /inbox for ${seconds} s`);
        const http = await scenario.http(scenario.make(n + CONNECTIONS * 2), rate);
        await drained();
        progress(options, `ingress: ${rate}/s, ${scenario.what}: bare JetStream publish for ${seconds} s`);
        const bare = await scenario.bare(n, rate, publisher(scenario.make(n)));
        await drained();
        for (const [label, l] of [['POST /inbox', http], ['bare publish', bare]] as const) {
          const prefix = `${label}, ${scenario.what}, @${rate}/s`;
          results[`${prefix} p50 (ms)`] = l.p50;
          results[`${prefix} p99 (ms)`] = l.p99;
          results[`${prefix} p99.9 (ms)`] = l.p999;
          results[`${prefix} achieved (req/s)`] = l.achieved;
        }
        const ratio = http.p99 / bare.p99;
        summary.push(
          { figure: `ingress @${rate}/s, ${scenario.what}: POST /inbox p50 / p99 / p99.9`, value: triple(http, rate), unit: '' },
          { figure: `ingress @${rate}/s, ${scenario.what}: bare JetStream publish p50 / p99 / p99.9`, value: triple(bare, rate), unit: '' },
          {
            figure: `ingress @${rate}/s, ${scenario.what}: POST /inbox p99 ÷ bare publish p99`,
            value: ratio,
            unit: '×',
            ...(rate === GOAL_RATE && scenario.key === 'cannon' ? { goal: '≤ 2 × bare publish p99', met: ratio <= 2 } : {}),
          },
        );
      }
    }
    return {
      name: `ingress latency: POST /inbox beside bare JetStream publish, ${seconds} s per rate and schedule`,
      results,
      notes: [
        `autocannon: ${CONNECTIONS} connections, each sending rate ÷ ${CONNECTIONS} requests back to back from the start of every second (its overallRate); the bare publisher copies that schedule`,
        'evenly paced: open loop, request i due at i ÷ rate, timed from its due time; keep-alive node:http agent / concurrent JetStream publishes',
        `light consumer: the envelopes are addressed to ${ELSEWHERE}, which the runtime does not host, so behind the ingress it only decodes, records the discard and acks (no signature work, no reply): the ingress path nearly alone`,
        `the runtime runs in its own process and consumes everything that arrives (delivery.concurrency ${MAILROOM_CONCURRENCY}, outbox worker off${pooled ? ', verify and sign on its crypto pool' : ''}); the load generator is this process; nats-server ${server.version}`,
      ],
      summary,
    };
  } finally {
    await scope.run();
  }
}

if (isMain(import.meta.url)) await runAsScript(run);
