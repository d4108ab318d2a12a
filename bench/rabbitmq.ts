/**
 * RabbitMQ doing the same work as the baseline: a durable queue of persistent messages,
 * a consumer with manual acks and prefetch 256 runs the verify-and-sign handler,
 * publishes the reply (persistent) to a durable reply queue on a confirm channel, and
 * acks the request once the broker confirmed the reply. amqplib against
 * 127.0.0.1:5672 (guest/guest, or `BENCH_AMQP_URL` on loopback); uniquely named queues,
 * deleted afterwards. Skipped with a note when RabbitMQ does not answer.
 *
 *   npx tsx bench/rabbitmq.ts [--quick] [--json]
 */
import { connect, type ChannelModel, type ConfirmChannel } from 'amqplib';
import { makeEnvelopes, verifyAndSign } from './fixtures.ts';
import { isMain, median, progress, runAsScript, type BenchOptions, type BenchResult, cpuWindow } from './support.ts';

export const RABBIT_PREFETCH = 256;
const PREFILL_WINDOW = 1_000;

function amqpUrl(): string {
  const url = process.env.BENCH_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
  const host = new URL(url).hostname;
  if (host !== '127.0.0.1' && host !== 'localhost' && host !== '[::1]') throw new Error(`BENCH_AMQP_URL must point at loopback, not ${host}`);
  return url;
}

export interface Rabbit {
  readonly version: string;
  readonly connection: ChannelModel;
  close(): Promise<void>;
}

/** A connection to the local RabbitMQ, or the reason there is none. */
export async function openRabbit(): Promise<Rabbit | { readonly skipped: string }> {
  let connection: ChannelModel;
  try {
    connection = await connect(amqpUrl(), { timeout: 3_000 });
  } catch (error) {
    return { skipped: `RabbitMQ is not reachable on 127.0.0.1:5672: ${error instanceof Error ? error.message : String(error)}` };
  }
  connection.on('error', () => undefined); // surfaces through the channel calls
  const version = String(connection.connection.serverProperties.version ?? 'unknown');
  return { version, connection, close: () => connection.close().catch(() => undefined) };
}

/** Messages per second of a consumer draining `payloads` through `handler`, replying with confirms. */
export async function drainRabbit(rabbit: Rabbit, payloads: readonly string[], handler: (data: Buffer) => string | Promise<string>, round: string): Promise<number> {
  const inQueue = `mailroom-bench-in-${process.pid}-${round}-${Date.now()}`;
  const outQueue = `mailroom-bench-out-${process.pid}-${round}-${Date.now()}`;
  const channel: ConfirmChannel = await rabbit.connection.createConfirmChannel();
  channel.on('error', () => undefined);
  try {
    await channel.assertQueue(inQueue, { durable: true });
    await channel.assertQueue(outQueue, { durable: true });
    for (let i = 0; i < payloads.length; i++) {
      channel.sendToQueue(inQueue, Buffer.from(payloads[i]!), { persistent: true });
      if ((i + 1) % PREFILL_WINDOW === 0) await channel.waitForConfirms();
    }
    await channel.waitForConfirms();
    await channel.prefetch(RABBIT_PREFETCH);
    let done = 0;
    let failure: unknown;
    let finish: () => void = () => undefined;
    const finished = new Promise<void>((resolve) => (finish = resolve));
    const started = performance.now();
    const stopCpu = cpuWindow();
    const { consumerTag } = await channel.consume(
      inQueue,
      (msg) => {
        if (!msg) return;
        void (async () => {
          try {
            const reply = await handler(msg.content);
            channel.sendToQueue(outQueue, Buffer.from(reply), { persistent: true }, (error: unknown) => {
              if (error) {
                failure ??= error;
                finish();
                return;
              }
              channel.ack(msg);
              if (++done === payloads.length) finish();
            });
          } catch (error) {
            failure ??= error;
            finish();
          }
        })();
      },
      { noAck: false },
    );
    await finished;
    stopCpu();
    const rate = done / ((performance.now() - started) / 1000);
    await channel.cancel(consumerTag);
    if (failure) throw new Error(`rabbitmq: ${failure instanceof Error ? failure.message : String(failure)}`);
    return rate;
  } finally {
    await channel.deleteQueue(inQueue).catch(() => undefined);
    await channel.deleteQueue(outQueue).catch(() => undefined);
    await channel.close().catch(() => undefined);
  }
}

export async function run(options: BenchOptions): Promise<BenchResult> {
  const count = options.quick ? 1_000 : 5_000;
  const rounds = options.quick ? 1 : 3;
  const rabbit = await openRabbit();
  if ('skipped' in rabbit) return { name: 'rabbitmq', results: {}, notes: [`skipped: ${rabbit.skipped}`] };
  try {
    const rates: number[] = [];
    for (let round = 0; round < rounds; round++) {
      progress(options, `rabbitmq: round ${round + 1}/${rounds}`);
      rates.push(await drainRabbit(rabbit, makeEnvelopes(count).payloads, verifyAndSign, String(round)));
    }
    return {
      name: `rabbitmq: durable queue, persistent messages, verify → sign → confirmed reply → ack (prefetch ${RABBIT_PREFETCH}; ${count} × ${rounds}, median)`,
      results: { 'rabbitmq (msgs/s)': median(rates) },
      notes: [`RabbitMQ ${rabbit.version}`],
    };
  } finally {
    await rabbit.close();
  }
}

if (isMain(import.meta.url)) await runAsScript(run);
