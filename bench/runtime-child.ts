/**
 * A Mailroom runtime in its own process, for the benchmarks that need one apart from the
 * load generator (ingress latency), one to kill (recovery) or one to weigh (memory).
 * Reads a JSON spec file, starts the runtime with a `Hello@Host` handler for every local
 * domain, and talks on stdout, one line each:
 *
 *   ready <url | ->                  started (the HTTP URL, or - without HTTP)
 *   settled <n>                      envelopes settled by this process so far (≤ 10 lines/s)
 *   idle-rss <bytes> heap <bytes> …  before the conversations start
 *   rss <bytes> heap <bytes> …       once they all wait (after a forced GC, RSS settled); also external, arrayBuffers, heapTotal
 *   idle-rss-at-gc / rss-at-gc <bytes>  the RSS right after the forced GCs, before it settled
 *   conversations <n>                conversations started so far (every second)
 *   unavailable <text>               what the spec asked for does not exist in this runtime
 *   failed <text>                    a fatal error (then exit 1)
 *
 * With `conversations: { count, to, … }` it starts that many conversations with
 * `mailroom.request(…)` (issue 4), paced by what the outbox has stored, then forces a
 * garbage collection (run it with --expose-gc) and prints `rss`. Stops on SIGTERM.
 *
 *   node --expose-gc --import tsx bench/runtime-child.ts <spec.json>
 */
import { readFile } from 'node:fs/promises';
import { constants, monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';
import { join } from 'node:path';
import { getHeapSpaceStatistics, writeHeapSnapshot } from 'node:v8';
import { jetstreamManager } from '@nats-io/jetstream';
import { parseConfig } from '../src/config/index.ts';
import { startMailroom } from '../src/mailroom/start-mailroom.ts';
import type { Mailroom } from '../src/core/mailroom-types.ts';
import { connectNats } from '../src/transport/connect.ts';
import type { HandlerMap } from '../src/runtime/handlers.ts';

export interface ChildSpec {
  readonly input: Record<string, unknown>;
  readonly dir: string;
  readonly http?: boolean;
  readonly outboxWorker?: boolean;
  /** Verify and sign on a crypto pool (`cryptoPool: true`). */
  readonly cryptoPool?: boolean;
  /** Where `POST /inbox` runs (the `ingress` option; default inline). */
  readonly ingress?: 'inline' | 'worker';
  readonly conversations?: { readonly count: number; readonly from: string; readonly to: string; readonly timeoutMs: number; readonly window: number };
}

/** What issue 4 adds to the runtime's handle; checked at run time, so this file runs on runtimes with and without it. */
interface RequestInput {
  from: string;
  to: string;
  subject: string;
  body: { n: number };
  timeoutMs: number;
}
type Requester = Mailroom & {
  request?(input: RequestInput): Promise<unknown>;
  startConversation?(input: RequestInput): Promise<{ correlation: string; outcome: Promise<unknown> }>;
};

const say = (line: string) => process.stdout.write(`${line}\n`);

async function measure(label: string): Promise<void> {
  const gc = (globalThis as { gc?: () => void }).gc;
  for (let i = 0; i < 3; i++) {
    gc?.();
    await new Promise((resolve) => setImmediate(resolve));
  }
  // Freed heap pages go back to the system a little after the GC (V8 releases them on a
  // background thread): the figure is the settled RSS, once it stops dropping (at most 3 s).
  const atGc = process.memoryUsage.rss();
  let usage = process.memoryUsage();
  for (let waited = 0; waited < 3000; waited += 250) {
    await new Promise((resolve) => setTimeout(resolve, 250));
    const next = process.memoryUsage();
    const settled = usage.rss - next.rss < 512 * 1024;
    usage = next;
    if (settled) break;
  }
  say(`${label}-at-gc ${atGc}`);
  // BENCH_HEAP_SPACES=1 (with BENCH_CHILD_STDERR=1 to see it): the V8 heap spaces, committed and used, on stderr.
  if (process.env.BENCH_HEAP_SPACES) for (const s of getHeapSpaceStatistics()) process.stderr.write(`${label} ${s.space_name} size ${(s.space_size / 1048576).toFixed(1)} used ${(s.space_used_size / 1048576).toFixed(1)} available ${(s.space_available_size / 1048576).toFixed(1)} physical ${(s.physical_space_size / 1048576).toFixed(1)}\n`);
  say(`${label} ${usage.rss} heap ${usage.heapUsed} external ${usage.external} arrayBuffers ${usage.arrayBuffers} heapTotal ${usage.heapTotal}`);
  // BENCH_HEAP_SNAPSHOT=<dir>: heap snapshots before and with the conversations waiting, for bench/heap-summary.ts.
  if (process.env.BENCH_HEAP_SNAPSHOT) say(`snapshot ${writeHeapSnapshot(join(process.env.BENCH_HEAP_SNAPSHOT, `${label}-${process.pid}.heapsnapshot`))}`);
}

async function startConversations(mailroom: Requester, spec: NonNullable<ChildSpec['conversations']>): Promise<void> {
  if (typeof mailroom.startConversation !== 'function' && typeof mailroom.request !== 'function') {
    say('unavailable startMailroom(...) has no request method yet (issue 4)');
    return;
  }
  await measure('idle-rss'); // before any conversation
  const input = (n: number): RequestInput => ({ from: spec.from, to: spec.to, subject: 'Hello@Host', body: { n }, timeoutMs: spec.timeoutMs });
  let refused = 0;
  const outcomes: Promise<unknown>[] = [];
  const ticker = setInterval(() => say(`conversations ${outcomes.length}`), 1000);
  if (typeof mailroom.startConversation === 'function') {
    // startConversation resolves once the conversation is stored and its request sent: `window` at a time.
    const start = mailroom.startConversation.bind(mailroom);
    let next = 0;
    const lane = async () => {
      while (next < spec.count) {
        const n = next++;
        try {
          const { outcome } = await start(input(n));
          outcomes.push(outcome.catch(() => undefined));
        } catch {
          refused++;
        }
      }
    };
    await Promise.all(Array.from({ length: spec.window }, lane));
  } else {
    // Only request(): pace by what the outbox has stored (one signed request each; nothing consumes it).
    const request = mailroom.request!.bind(mailroom);
    const nc = await connectNats({ url: mailroom.natsUrl });
    const jsm = await jetstreamManager(nc);
    const stored = async () => (await jsm.streams.info(mailroom.names.streams.outbox)).state.messages;
    const base = await stored();
    const deadline = Date.now() + 30 * 60_000;
    let started = 0;
    while (started < spec.count || (await stored()) - base < spec.count - refused) {
      if (Date.now() > deadline) throw new Error(`conversations: the outbox stopped growing at ${(await stored()) - base}`);
      const ahead = started - ((await stored()) - base) - refused;
      if (ahead >= spec.window || started >= spec.count) {
        await new Promise((resolve) => setTimeout(resolve, 5));
        continue;
      }
      const n = Math.min(spec.window - ahead, spec.count - started);
      for (let i = 0; i < n; i++) outcomes.push(request(input(started + i)).catch(() => void refused++));
      started += n;
    }
    await nc.close();
  }
  clearInterval(ticker);
  say(`conversations ${spec.count - refused}`);
  if (refused > 0) say(`failed ${refused} conversations were refused`);
  await measure('rss');
  // Keep the outcomes (what a caller holds) reachable until the process ends.
  (globalThis as { benchOutcomes?: unknown }).benchOutcomes = outcomes;
}

try {
  const spec = JSON.parse(await readFile(process.argv[2]!, 'utf8')) as ChildSpec;
  const config = parseConfig(spec.input, { baseDir: spec.dir, env: {} });
  const hello: HandlerMap = { 'Hello@Host': ({ body }) => ({ echo: body }) };
  const mailroom = await startMailroom(config, {
    handlers: Object.fromEntries(config.domains.map((d) => [d.name, hello])),
    http: spec.http ?? false,
    outboxWorker: spec.outboxWorker ?? false,
    ...(spec.cryptoPool ? { cryptoPool: true } : {}),
    ...(spec.ingress ? { ingress: spec.ingress } : {}),
    // As `mailroom start` runs it (BENCH_PROCESSING_NICE=0: not lowered).
    ...(spec.ingress === 'worker' ? { processingNice: Number(process.env.BENCH_PROCESSING_NICE ?? 10) || undefined } : {}),
    onError: () => undefined,
  });
  let settled = 0;
  let reported = 0;
  let timer: NodeJS.Timeout | undefined;
  mailroom.events.on('settled', () => {
    settled++;
    if (reported === 0) {
      reported = settled;
      say(`settled ${settled}`);
    }
    timer ??= setTimeout(() => {
      timer = undefined;
      reported = settled;
      say(`settled ${settled}`);
    }, 100);
  });
  process.once('SIGTERM', () => {
    void mailroom.stop().then(() => process.exit(0));
  });
  // BENCH_LOOP_DELAY=1 (with BENCH_CHILD_STDERR=1 to see it): the event loop's delay each second, on stderr.
  if (process.env.BENCH_LOOP_DELAY === '1') {
    const delay = monitorEventLoopDelay({ resolution: 1 });
    delay.enable();
    // And the garbage collector's pauses in the same second: the longest, its kind, and the total.
    let gcMax = 0;
    let gcMaxKind = 0;
    let gcTotal = 0;
    new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) {
        gcTotal += entry.duration;
        if (entry.duration > gcMax) {
          gcMax = entry.duration;
          gcMaxKind = (entry as unknown as { detail?: { kind?: number } }).detail?.kind ?? 0;
        }
      }
    }).observe({ entryTypes: ['gc'] });
    const gcKinds: Record<number, string> = { [constants.NODE_PERFORMANCE_GC_MAJOR]: 'major', [constants.NODE_PERFORMANCE_GC_MINOR]: 'minor', [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental', [constants.NODE_PERFORMANCE_GC_WEAKCB]: 'weakcb' };
    setInterval(() => {
      const ms = (ns: number) => (ns / 1e6).toFixed(1);
      process.stderr.write(
        `loop delay p50 ${ms(delay.percentile(50))} p99 ${ms(delay.percentile(99))} max ${ms(delay.max)} ms; gc max ${gcMax.toFixed(1)} ms (${gcKinds[gcMaxKind] ?? gcMaxKind}) total ${gcTotal.toFixed(0)} ms; settled ${settled}\n`,
      );
      delay.reset();
      gcMax = 0;
      gcTotal = 0;
    }, 1000).unref();
  }
  say(`ready ${mailroom.url ?? '-'}`);
  if (spec.conversations) await startConversations(mailroom as Requester, spec.conversations);
} catch (error) {
  say(`failed ${error instanceof Error ? error.message : String(error)}`.replace(/\n/g, ' '));
  process.exit(1);
}
