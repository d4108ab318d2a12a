/**
 * Throughput side by side, in one run, on one nats-server: envelopes per second from a
 * pre-filled queue to a signed reply, for
 *
 * - **baseline**: the bare JetStream consume → verify → sign → publish → ack loop with the
 *   same client settings Mailroom uses (the ceiling for this stack, crypto on the main thread);
 * - **bare loop**: the same without verify and sign (the JetStream ceiling);
 * - **mailroom**: the real runtime draining a pre-filled inbox (decode, validation, verify,
 *   handler, signed reply to the outbox, status and replay KV writes, ack);
 * - **baseline on the crypto pool**: the baseline with verify and sign on worker threads;
 * - **mailroom on the crypto pool**: measured once the runtime takes a `cryptoPool` option
 *   (detected: the pool's operation count must move), else reported as not wired;
 * - **bullmq** and **rabbitmq**: the same handler on BullMQ (Redis AOF everysec) and on a
 *   durable RabbitMQ queue with publisher confirms (each skipped with a note when absent).
 *
 * Each contender first runs a short unmeasured warm-up; then every round runs all of them,
 * in an order rotated per round so drift hits them alike; figures are medians.
 *
 *   npx tsx bench/pipeline.ts [--quick] [--json]
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { EventEmitter } from 'node:events';
import { jetstream, jetstreamManager, AckPolicy } from '@nats-io/jetstream';
import { connectNats } from '../src/transport/connect.ts';
import { spawnNatsServer, type NatsServerProcess } from '../src/transport/spawn-nats-server.ts';
import { parseConfig } from '../src/config/index.ts';
import { startMailroom } from '../src/mailroom/start-mailroom.ts';
import type { MailroomEvents, MailroomOptions } from '../src/core/mailroom-types.ts';
import { createNames } from '../src/transport/names.ts';
import { createCryptoPool, cryptoWorkerCount, type CryptoPool } from '../src/runtime/crypto-pool.ts';
import { startObservability } from '../src/observability/observability.ts';
import { createLogger } from '../src/observability/logger.ts';
import { pino } from 'pino';
import type { HandlerMap } from '../src/runtime/handlers.ts';
import { makeEnvelopes, pooledVerifyAndSign, receiverKeys, RECEIVER, SELECTOR, SENDER, senderKeys, verifyAndSign, type Envelopes } from './fixtures.ts';
import { BULLMQ_CONCURRENCY, drainBullmq, startRedis, type RedisServer } from './bullmq.ts';
import { drainRabbit, openRabbit, RABBIT_PREFETCH, type Rabbit } from './rabbitmq.ts';
import { Cleanup, cpuWindow, findProcess, isMain, makeTempDir, measureBrokers, median, takeBrokerCpuWindowUs, takeCpuWindowUs, progress, removeTempDir, runAsScript, type BenchOptions, type BenchResult, type SummaryRow } from './support.ts';

const WINDOW = 256;
export const MAILROOM_CONCURRENCY = 256;

/** Publishes `payloads` with a bounded window of unacknowledged publishes. */
export async function prefill(url: string, subject: (i: number) => string, payloads: readonly string[], msgId: (i: number) => string | undefined): Promise<void> {
  const nc = await connectNats({ url });
  try {
    const js = jetstream(nc);
    const pending = new Set<Promise<unknown>>();
    for (let i = 0; i < payloads.length; i++) {
      const id = msgId(i);
      const p = js.publish(subject(i), payloads[i]!, id ? { msgID: id } : {}).finally(() => pending.delete(p));
      pending.add(p);
      if (pending.size >= WINDOW) await Promise.race(pending);
    }
    await Promise.all(pending);
  } finally {
    await nc.close();
  }
}

type Work = (data: Uint8Array) => Uint8Array | string | Promise<Uint8Array | string>;

/**
 * The bare loop: consume → publish a reply → ack, with no actor, no status, no replay guard.
 * `work` turns a message into the reply: nothing (the JetStream ceiling), or verify + sign
 * (the ceiling for this stack), on the main thread or awaited on the crypto pool.
 */
export async function bareLoop(url: string, payloads: readonly string[], name: string, work: Work = (d) => d): Promise<number> {
  const stream = `BARE${name}`;
  const nc = await connectNats({ url });
  const jsm = await jetstreamManager(nc);
  try {
    await jsm.streams.add({ name: stream, subjects: [`bare${name}.in`, `bare${name}.out`] });
    await jsm.consumers.add(stream, { durable_name: 'worker', ack_policy: AckPolicy.Explicit, filter_subject: `bare${name}.in`, max_ack_pending: 1024 });
    await prefill(url, () => `bare${name}.in`, payloads, () => undefined);
    const js = jetstream(nc);
    const consumer = await js.consumers.get(stream, 'worker');
    const messages = await consumer.consume({ max_messages: 512 });
    const started = performance.now();
    const stopCpu = cpuWindow();
    let done = 0;
    let failure: unknown;
    await new Promise<void>((resolve) => {
      void (async () => {
        for await (const msg of messages) {
          void (async () => {
            try {
              await js.publish(`bare${name}.out`, await work(msg.data));
              msg.ack();
              if (++done === payloads.length) resolve();
            } catch (error) {
              failure ??= error;
              resolve();
            }
          })();
        }
      })();
    });
    stopCpu();
    const rate = payloads.length / ((performance.now() - started) / 1000);
    await messages.close();
    if (failure) throw new Error(`bare loop ${name}: ${failure instanceof Error ? failure.message : String(failure)}`);
    return rate;
  } finally {
    await jsm.streams.delete(stream).catch(() => undefined);
    await nc.close();
  }
}

/** Deletes the streams (and KV buckets) of one Mailroom prefix. */
async function deletePrefix(url: string, prefix: string): Promise<void> {
  const names = createNames(prefix);
  const nc = await connectNats({ url });
  try {
    const jsm = await jetstreamManager(nc);
    const streams = [...Object.values(names.streams), ...Object.values(names.buckets).map((b) => `KV_${b}`)];
    for (const stream of streams) await jsm.streams.delete(stream).catch(() => undefined);
  } finally {
    await nc.close();
  }
}

/** Config input for a runtime hosting shop.example that trusts orders.example. */
export async function mailroomInput(url: string, dir: string, prefix: string, extra: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
  const keyFile = join(dir, 'shop.pem');
  await writeFile(keyFile, receiverKeys.privateKeyPem);
  return {
    nats: { url, prefix },
    http: { port: 0 },
    domains: [{ name: RECEIVER, selector: SELECTOR, privateKey: keyFile }],
    keys: { trusted: [{ domain: SENDER, selector: SELECTOR, key: senderKeys.dnsTxt }] },
    validation: { maxAge: 'off', maxSkew: '1h' },
    delivery: { concurrency: MAILROOM_CONCURRENCY },
    ...extra,
  };
}

/** Envelopes per second through the real runtime, from a pre-filled inbox to `replied`. */
export async function mailroomRun(url: string, dir: string, envelopes: Envelopes, prefix: string, { pool, observed = false, replicas }: { pool?: CryptoPool; observed?: boolean; replicas?: 1 | 3 | 5 } = {}): Promise<number> {
  const config = parseConfig(await mailroomInput(url, dir, prefix, replicas ? { nats: { url, prefix, replicas } } : {}), { baseDir: dir, env: {} });
  const names = createNames(prefix);
  try {
    // Provision the streams with a first start, fill the inbox while nothing consumes, then measure the drain.
    await (await startMailroom(config, { http: false, outboxWorker: false })).stop();
    await prefill(url, () => names.inboxSubject(RECEIVER, SENDER), envelopes.payloads, (i) => names.inboxMsgId(SENDER, envelopes.correlations[i]!, envelopes.proofs[i]!.hash, envelopes.proofs[i]!.signature));
    // Observed: what `mailroom start` attaches (metrics, the dashboard's tracker, OpenTelemetry
    // spans, a JSON log line per settled envelope), logs going to /dev/null.
    const observability = observed
      ? await startObservability({ logger: createLogger({ format: 'json', destination: pino.destination({ dest: '/dev/null', sync: true }) }) })
      : undefined;
    const events = observability?.mailroomOptions.events ?? new EventEmitter<MailroomEvents>();
    let done = 0;
    let started = 0;
    let stopCpu = (): void => undefined;
    let failure: string | undefined;
    const finished = new Promise<void>((resolve) => {
      events.on('settled', (status) => {
        if (status.state !== 'replied') failure ??= `${status.state}: ${JSON.stringify(status.discard ?? status.deadLetter)}`;
        if (done === 0) {
          started = performance.now();
          stopCpu = cpuWindow();
        }
        if (++done === envelopes.payloads.length) resolve();
      });
    });
    const handlers: Record<string, HandlerMap> = { [RECEIVER]: { 'Hello@Host': ({ body }) => ({ echo: body }) } };
    // `cryptoPool` is the option recommended for wiring the pool (bench/README.md); until
    // the runtime reads it, the pool stays idle and the caller reports "not wired".
    const options: MailroomOptions & { cryptoPool?: CryptoPool } = { http: false, outboxWorker: false, events, handlers, onError: () => undefined, ...(pool ? { cryptoPool: pool } : {}) };
    const runtime = await startMailroom(config, options);
    observability?.attach(runtime);
    await finished;
    stopCpu();
    const rate = (envelopes.payloads.length - 1) / ((performance.now() - started) / 1000);
    await runtime.stop();
    await observability?.stop();
    if (failure) throw new Error(`an envelope did not reach replied: ${failure}`);
    return rate;
  } finally {
    await deletePrefix(url, prefix);
  }
}

interface Contender {
  readonly key: string;
  readonly label: string;
  run(envelopes: Envelopes, round: string): Promise<number>;
  readonly rates: number[];
  /** CPU µs per message of this process (every thread), per round. */
  readonly cpu: number[];
  /** CPU µs per message of the broker it uses (nats-server, redis-server, RabbitMQ), per round. */
  readonly brokerCpu: number[];
  /** The broker's pid, when known. */
  readonly brokerPid: number | undefined;
  skipped?: string;
}

export async function run(options: BenchOptions): Promise<BenchResult> {
  const count = options.quick ? 1_000 : 5_000;
  const warmup = options.quick ? 300 : 1_000;
  const rounds = options.quick ? 1 : 5;
  const scope = new Cleanup();
  try {
    const dir = await makeTempDir('pipeline');
    scope.defer(() => removeTempDir(dir));
    const server: NatsServerProcess = await spawnNatsServer({ args: ['-js', '-sd', join(dir, 'nats'), '-a', '127.0.0.1', '-p', '-1'] });
    scope.defer(() => server.stop());
    const url = server.url;
    const pool = createCryptoPool();
    scope.defer(() => pool.close());
    const pooled = pooledVerifyAndSign(pool);
    const observedPooled = cryptoWorkerCount('auto') > 0;

    progress(options, 'pipeline: starting redis-server and connecting to RabbitMQ');
    const redis = await startRedis();
    if (!('skipped' in redis)) scope.defer(() => redis.stop());
    const rabbit = await openRabbit();
    if (!('skipped' in rabbit)) scope.defer(() => rabbit.close());

    const rabbitPid = 'skipped' in rabbit ? undefined : findProcess('beam.smp');
    const brokerOf = (key: string): number | undefined => (key === 'bullmq' ? ('skipped' in redis ? undefined : redis.pid) : key === 'rabbitmq' ? rabbitPid : server.pid);
    const contender = (key: string, label: string, runOne: Contender['run']): Contender => ({ key, label, run: runOne, rates: [], cpu: [], brokerCpu: [], brokerPid: brokerOf(key) });
    const contenders: Contender[] = [
      contender('baseline', 'baseline: consume → verify → sign → publish → ack', (e, r) => bareLoop(url, e.payloads, `${r}crypto`, verifyAndSign)),
      contender('bare', 'bare loop: consume → publish → ack', (e, r) => bareLoop(url, e.payloads, `${r}plain`)),
      contender('mailroom', 'mailroom: inbox → replied', (e, r) => mailroomRun(url, dir, e, `bench${r}`)),
      // As `mailroom start` runs it: crypto.workers auto (this run's pool, one thread per core, when there are two or more).
      contender('mailroomObserved', 'mailroom as `mailroom start` runs it: + metrics, dashboard, spans, JSON logs', (e, r) => mailroomRun(url, dir, e, `benchobs${r}`, { observed: true, ...(observedPooled ? { pool } : {}) })),
      contender('baselinePool', `baseline, verify + sign on the crypto pool (${pool.size} workers)`, (e, r) => bareLoop(url, e.payloads, `${r}pool`, pooled)),
      contender('mailroomPool', `mailroom, crypto on the pool (${pool.size} workers)`, async (e, r) => {
        const before = pool.stats().operations;
        const rate = await mailroomRun(url, dir, e, `benchpool${r}`, { pool });
        return pool.stats().operations > before ? rate : Number.NaN;
      }),
      contender('bullmq', `bullmq: worker (concurrency ${BULLMQ_CONCURRENCY}), Redis AOF everysec`, (e, r) => drainBullmq((redis as RedisServer).port, e.payloads, verifyAndSign, r)),
      contender('rabbitmq', `rabbitmq: durable queue, persistent, confirms, prefetch ${RABBIT_PREFETCH}`, (e, r) => drainRabbit(rabbit as Rabbit, e.payloads, verifyAndSign, r)),
    ];
    const byKey = (key: string) => contenders.find((c) => c.key === key)!;
    if ('skipped' in redis) byKey('bullmq').skipped = redis.skipped;
    if ('skipped' in rabbit) byKey('rabbitmq').skipped = rabbit.skipped;
    if (process.env.BENCH_ONLY) for (const c of contenders) if (!process.env.BENCH_ONLY.split(',').includes(c.key)) c.skipped ??= 'left out by BENCH_ONLY';

    for (const c of contenders) {
      if (c.skipped) continue;
      progress(options, `pipeline: warm-up: ${c.key}`);
      const rate = await c.run(makeEnvelopes(warmup), `w${c.key}`);
      if (c.key === 'mailroomPool' && Number.isNaN(rate)) c.skipped = 'not wired yet: startMailroom does not take a cryptoPool option (the pool stayed idle)';
    }
    for (let round = 0; round < rounds; round++) {
      const envelopes = makeEnvelopes(count, round * count);
      const active = contenders.filter((c) => !c.skipped);
      for (let k = 0; k < active.length; k++) {
        const c = active[(k + round) % active.length]!;
        progress(options, `pipeline: round ${round + 1}/${rounds}: ${c.key} (${k + 1}/${active.length})`);
        takeCpuWindowUs();
        takeBrokerCpuWindowUs();
        measureBrokers(c.brokerPid === undefined ? [] : [c.brokerPid]);
        c.rates.push(await c.run(envelopes, `${round}${c.key}`));
        c.cpu.push(takeCpuWindowUs() / count);
        c.brokerCpu.push(takeBrokerCpuWindowUs() / count);
      }
    }

    const rate = (key: string) => (byKey(key).skipped ? Number.NaN : median(byKey(key).rates));
    const baseline = rate('baseline');
    const mailroom = rate('mailroom');
    const results: Record<string, number> = {};
    for (const c of contenders) if (!c.skipped) results[`${c.label} (msgs/s)`] = rate(c.key);
    const cpu = (key: string) => (byKey(key).skipped ? Number.NaN : median(byKey(key).cpu));
    for (const c of contenders) if (!c.skipped) results[`${c.key}: CPU of this process per message (µs)`] = cpu(c.key);
    // What the broker spent on the same messages (nats-server, redis-server, RabbitMQ's node): NaN where it could not be read.
    const brokerCpu = (key: string) => (byKey(key).skipped ? Number.NaN : median(byKey(key).brokerCpu));
    for (const c of contenders) if (!c.skipped) results[`${c.key}: CPU of the broker per message (µs)`] = brokerCpu(c.key);
    const row = (key: string, goal?: { text: string; met: (ratio: number) => boolean }): SummaryRow => {
      const c = byKey(key);
      if (c.skipped) return { figure: c.label, value: `skipped: ${c.skipped}`, unit: '' , ...(goal ? { goal: goal.text } : {}) };
      const ratio = rate(key) / baseline;
      return { figure: c.label, value: rate(key), unit: 'msgs/s', ratio, versus: 'baseline', ...(goal ? { goal: goal.text, met: goal.met(ratio) } : {}) };
    };
    const versus = (key: string, goal: number): SummaryRow => {
      const c = byKey(key);
      if (c.skipped) return { figure: `mailroom ÷ ${key}`, value: `skipped (${key} absent)`, unit: '', goal: `≥ ${goal.toFixed(1)}` };
      const ratio = mailroom / rate(key);
      return { figure: `mailroom ÷ ${key}`, value: ratio, unit: '×', goal: `≥ ${goal.toFixed(1)}`, met: ratio >= goal };
    };
    // Issue 18's goals, all within this run: as `mailroom start` runs it against the queues users
    // would pick instead; what observability costs; what the crypto pool does for each.
    const plain = observedPooled ? 'mailroomPool' : 'mailroom';
    const issue18Rows = (): SummaryRow[] => {
      const ratioRow = (figure: string, keys: readonly string[], value: () => number, goal?: string, met?: (v: number) => boolean): SummaryRow => {
        const missing = keys.filter((k) => byKey(k).skipped);
        if (missing.length > 0) return { figure, value: `skipped (${missing.join(', ')} absent)`, unit: '', ...(goal ? { goal } : {}) };
        const v = value();
        return { figure, value: v, unit: '×', ...(goal && met ? { goal, met: met(v) } : {}) };
      };
      return [
        ratioRow('mailroomObserved ÷ bullmq (msgs/s)', ['mailroomObserved', 'bullmq'], () => rate('mailroomObserved') / rate('bullmq'), '≥ 1.0', (v) => v >= 1),
        ratioRow('mailroomObserved ÷ rabbitmq (msgs/s)', ['mailroomObserved', 'rabbitmq'], () => rate('mailroomObserved') / rate('rabbitmq'), '≥ 1.0', (v) => v >= 1),
        ratioRow('bullmq CPU ÷ mailroomObserved CPU per message', ['mailroomObserved', 'bullmq'], () => cpu('bullmq') / cpu('mailroomObserved'), '≥ 1.0', (v) => v >= 1),
        // The same with each broker's CPU added (redis-server; nats-server): the whole machine's work per message.
        ratioRow('bullmq CPU ÷ mailroomObserved CPU per message, broker included', ['mailroomObserved', 'bullmq'], () => (cpu('bullmq') + brokerCpu('bullmq')) / (cpu('mailroomObserved') + brokerCpu('mailroomObserved'))),
        ratioRow('rabbitmq CPU ÷ mailroomObserved CPU per message, broker included', ['mailroomObserved', 'rabbitmq'], () => (cpu('rabbitmq') + brokerCpu('rabbitmq')) / (cpu('mailroomObserved') + brokerCpu('mailroomObserved'))),
        // What observability costs, against mailroom with the same crypto (the pool, when `mailroom start` uses it).
        ratioRow(`mailroomObserved ÷ ${plain} (msgs/s): what observability costs`, ['mailroomObserved', plain], () => rate('mailroomObserved') / rate(plain), '≥ 0.9', (v) => v >= 0.9),
        ratioRow(`${plain} CPU ÷ mailroomObserved CPU per message`, ['mailroomObserved', plain], () => cpu(plain) / cpu('mailroomObserved'), '≥ 0.9', (v) => v >= 0.9),
        ratioRow('(mailroomPool ÷ mailroom) ÷ (baselinePool ÷ baseline): the pool helps mailroom as much', ['mailroomPool', 'mailroom', 'baselinePool', 'baseline'], () => rate('mailroomPool') / mailroom / (rate('baselinePool') / baseline), '≥ 1.0', (v) => v >= 1),
      ];
    };
    const summary: SummaryRow[] = [
      row('baseline'),
      row('bare'),
      row('mailroom', { text: '≥ 0.9 × baseline', met: (r) => r >= 0.9 }),
      row('mailroomObserved'),
      row('baselinePool'),
      row('mailroomPool', { text: '≥ 1.5 × baseline', met: (r) => r >= 1.5 }),
      row('bullmq'),
      row('rabbitmq'),
      versus('bullmq', 1),
      versus('rabbitmq', 1),
      ...issue18Rows(),
    ];
    const notes = [
      `${count} envelopes (~600 bytes) per contender per round, ${rounds} round(s) after a ${warmup}-envelope warm-up each; medians; nats-server ${server.version} (file storage), node ${process.version}`,
      `mailroom: delivery.concurrency ${MAILROOM_CONCURRENCY}, the outbox worker off (replies stay in MAILROOM_OUTBOX), status and replay KV writes on; its rate is timed from the first settled envelope to the last`,
      `mailroomObserved: signatures ${observedPooled ? `on the crypto pool (${pool.size} workers), as mailroom start's crypto.workers auto does here` : 'on the event loop, as mailroom start does on one core'}`,
    ];
    for (const c of contenders) if (c.skipped) notes.push(`${c.key}: ${c.skipped}`);
    if (!('skipped' in redis)) notes.push(`bullmq: redis-server ${redis.version} (a child of this run, AOF everysec), driven through BullMQ's Bun-client adapter with bench/resp-client.ts (BullMQ 6 has no Redis driver installed: ioredis is an optional peer)`);
    if (!('skipped' in rabbit)) notes.push(`rabbitmq: RabbitMQ ${rabbit.version} on 127.0.0.1:5672`);
    return {
      name: 'pipeline: pre-filled queue → verify → handler → signed reply → ack',
      results,
      ratios: {
        'mailroom / baseline with the same crypto': { value: mailroom / baseline, goal: 0.9 },
        'mailroom / bare loop': { value: mailroom / rate('bare'), goal: 0.5 },
        // CPU per message, inverted so it reads like the rate ratio: the share of mailroom's work that is the baseline's.
        'baseline CPU ÷ mailroom CPU per message': { value: cpu('baseline') / cpu('mailroom'), goal: 0.9 },
      },
      notes,
      summary,
    };
  } finally {
    await scope.run();
  }
}

export const USAGE = `usage: npx tsx bench/pipeline.ts [--quick] [--json] [--help]

Envelopes per second and CPU µs per envelope from a pre-filled queue to a signed reply, every
contender in one run, rounds rotated, medians (5 rounds of 5,000; --quick: 1 round of 1,000).

  --quick   short rounds and smaller counts
  --json    one JSON document on stdout (progress stays on stderr)
  --help    this text; runs nothing

Environment:
  BENCH_ONLY=key,key   only these contenders: baseline, bare, mailroom, mailroomObserved,
                       baselinePool, mailroomPool, bullmq, rabbitmq
  BENCH_AMQP_URL       the RabbitMQ to use, on loopback (default amqp://guest:guest@127.0.0.1:5672)

Profile: BENCH_ONLY=mailroom node --cpu-prof --cpu-prof-dir=prof --import tsx/esm bench/pipeline.ts
         npx tsx bench/profile-summary.ts prof/CPU.*.0.001.cpuprofile --top 30
`;

if (isMain(import.meta.url)) await runAsScript(run, USAGE);
