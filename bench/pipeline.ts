/**
 * Envelopes per second from a pre-filled inbox stream to replied, through the real runtime
 * (decode, validation, Ed25519 verify, handler, signed reply to the outbox, status, ack),
 * beside the bare JetStream consume → publish → ack loop with the same client settings, in
 * the same run. Goal (issue 3): mailroom ≥ 0.5 × the bare loop.
 *
 *   npx tsx bench/pipeline.ts [--quick] [--json]
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jetstream, jetstreamManager, AckPolicy } from '@nats-io/jetstream';
import { connectNats } from '../src/transport/connect.ts';
import { spawnNatsServer } from '../src/transport/spawn-nats-server.ts';
import { generateDomainKeys, parsePrivateKey, parsePublicKey } from '../src/keys/index.ts';
import { encodeEnvelope, signEnvelope, verifyEnvelopeText } from '../src/envelope/index.ts';
import { parseConfig } from '../src/config/index.ts';
import { EventEmitter } from 'node:events';
import { startMailroom, type MailroomEvents } from '../src/runtime/mailroom.ts';
import { createNames } from '../src/transport/names.ts';
import type { HandlerMap } from '../src/runtime/handlers.ts';
import { isMain, median, progress, runAsScript, type BenchOptions, type BenchResult } from './support.ts';

const WINDOW = 256;

async function prefill(url: string, subject: (i: number) => string, payloads: readonly string[], msgId: (i: number) => string | undefined): Promise<void> {
  const nc = await connectNats({ url });
  const js = jetstream(nc);
  const pending = new Set<Promise<unknown>>();
  for (let i = 0; i < payloads.length; i++) {
    const id = msgId(i);
    const p = js.publish(subject(i), payloads[i]!, id ? { msgID: id } : {}).finally(() => pending.delete(p));
    pending.add(p);
    if (pending.size >= WINDOW) await Promise.race(pending);
  }
  await Promise.all(pending);
  await nc.close();
}

/**
 * The bare loop: consume → publish a reply → ack, with no actor, no status, no replay guard.
 * `work` turns a message into the reply: nothing (the JetStream ceiling), or verify + sign
 * (the ceiling for this stack with the same crypto on the main thread).
 */
async function bareLoop(url: string, payloads: readonly string[], name: string, work: (data: Uint8Array) => Uint8Array | string = (d) => d): Promise<number> {
  const round = name;
  const stream = `BARE${round}`;
  const nc = await connectNats({ url });
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({ name: stream, subjects: [`bare${round}.in`, `bare${round}.out`] });
  await jsm.consumers.add(stream, { durable_name: 'worker', ack_policy: AckPolicy.Explicit, filter_subject: `bare${round}.in`, max_ack_pending: 1024 });
  await prefill(url, () => `bare${round}.in`, payloads, () => undefined);
  const js = jetstream(nc);
  const consumer = await js.consumers.get(stream, 'worker');
  const messages = await consumer.consume({ max_messages: 512 });
  const started = performance.now();
  let done = 0;
  await new Promise<void>((resolve) => {
    void (async () => {
      for await (const msg of messages) {
        void js.publish(`bare${round}.out`, work(msg.data)).then(() => {
          msg.ack();
          if (++done === payloads.length) resolve();
        });
      }
    })();
  });
  const rate = payloads.length / ((performance.now() - started) / 1000);
  await messages.close();
  await nc.close();
  return rate;
}

async function mailroomRun(url: string, dir: string, payloads: readonly string[], round: number): Promise<number> {
  const shopKeys = generateDomainKeys('shop.example', 'pw1');
  await writeFile(join(dir, 'shop.pem'), shopKeys.privateKeyPem);
  const prefix = `bench${round}`;
  const config = parseConfig(
    {
      nats: { url, prefix },
      domains: [{ name: 'shop.example', selector: 'pw1', privateKey: join(dir, 'shop.pem') }],
      keys: { trusted: [{ domain: 'orders.example', selector: 'pw1', key: senderKeys.dnsTxt }] },
      validation: { maxAge: 'off', maxSkew: '1h' },
      delivery: { concurrency: 256 },
    },
    { baseDir: dir, env: {} },
  );
  const names = createNames(prefix);
  // Provision the streams with a first start, fill the inbox while nothing consumes, then measure the drain.
  await (await startMailroom(config, { http: false, outboxWorker: false })).stop();
  await prefill(url, () => names.inboxSubject('shop.example', 'orders.example'), payloads, (i) => `orders.example/${correlations[i]}`);
  const events = new EventEmitter<MailroomEvents>();
  let done = 0;
  let started = 0;
  let failure: string | undefined;
  const finished = new Promise<void>((resolve) => {
    events.on('settled', (status) => {
      if (status.state !== 'replied') failure ??= `${status.state}: ${JSON.stringify(status.discard ?? status.deadLetter)}`;
      if (done === 0) started = performance.now();
      if (++done === payloads.length) resolve();
    });
  });
  const handlers: Record<string, HandlerMap> = { 'shop.example': { 'Hello@Host': ({ body }) => ({ echo: body }) } };
  const runtime = await startMailroom(config, { http: false, outboxWorker: false, events, handlers });
  await finished;
  const rate = (payloads.length - 1) / ((performance.now() - started) / 1000);
  await runtime.stop();
  if (failure) throw new Error(`an envelope did not reach replied: ${failure}`);
  return rate;
}

const senderKeys = generateDomainKeys('orders.example', 'pw1');
let correlations: string[] = [];

export async function run(options: BenchOptions): Promise<BenchResult> {
  const count = options.quick ? 1_000 : 5_000;
  const rounds = options.quick ? 1 : 3;
  const dir = await mkdtemp(join(tmpdir(), 'mailroom-bench-'));
  const server = await spawnNatsServer({ args: ['-js', '-sd', join(dir, 'nats'), '-a', '127.0.0.1', '-p', '-1'] });
  try {
    const key = parsePrivateKey(senderKeys.privateKeyPem);
    const bare: number[] = [];
    const baseline: number[] = [];
    const senderKey = parsePublicKey(senderKeys.publicKeyPem);
    const replier = parsePrivateKey(generateDomainKeys('shop.example', 'pw1').privateKeyPem);
    const verifyAndSign = (data: Uint8Array): string => {
      const verified = verifyEnvelopeText(data, senderKey);
      if (!verified.ok) throw new Error(`baseline: ${verified.error.reason}`);
      const { Header, Body } = verified.value.envelope;
      return encodeEnvelope(signEnvelope({ From: 'shop.example', Selector: 'pw1', To: Header.From, Subject: `Reply@${Header.Subject}`, Correlation: Header.Correlation, Body: { echo: Body } }, replier));
    };
    const full: number[] = [];
    for (let round = 0; round < rounds; round++) {
      const envelopes = Array.from({ length: count }, (_, i) =>
        signEnvelope({ From: 'orders.example', Selector: 'pw1', To: 'shop.example', Subject: 'Hello@Host', Body: { text: 'hello', n: i, items: ['a', 'b', 'c'], note: 'x'.repeat(200) } }, key),
      );
      correlations = envelopes.map((e) => e.Header.Correlation);
      const payloads = envelopes.map(encodeEnvelope);
      progress(options, `pipeline: round ${round + 1}/${rounds}: bare loop`);
      if (!process.env.BENCH_ONLY_MAILROOM) bare.push(await bareLoop(server.url, payloads, `${round}plain`));
      progress(options, `pipeline: round ${round + 1}/${rounds}: baseline with verify + sign`);
      if (!process.env.BENCH_ONLY_MAILROOM) baseline.push(await bareLoop(server.url, payloads, `${round}crypto`, verifyAndSign));
      progress(options, `pipeline: round ${round + 1}/${rounds}: mailroom`);
      full.push(await mailroomRun(server.url, dir, payloads, round));
    }
    const bareRate = bare.length ? median(bare) : Number.NaN;
    const baselineRate = baseline.length ? median(baseline) : Number.NaN;
    const fullRate = median(full);
    return {
      name: `pipeline: pre-filled inbox → replied (${count} envelopes × ${rounds} rounds, medians)`,
      results: {
        'bare consume → publish → ack (msgs/s)': bareRate,
        'baseline consume → verify → sign → publish → ack (msgs/s)': baselineRate,
        'mailroom inbox → replied (envelopes/s)': fullRate,
      },
      ratios: {
        'mailroom / bare loop': { value: fullRate / bareRate, goal: 0.5 },
        'mailroom / baseline with the same crypto': { value: fullRate / baselineRate, goal: 0.5 },
      },
      notes: [`nats-server ${server.version}, node ${process.version}; the mailroom figure includes decode, verify, handler, sign, status and replay KV writes`],
    };
  } finally {
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

if (isMain(import.meta.url)) await runAsScript(run);
