/**
 * What batching buys when each handler call costs a round trip to a resource that serves one
 * call at a time (a database connection, a rate-limited API): N envelopes to one subject, handled
 * one per call, then in batches, each call costing `COST_MS`. Prints envelopes/s per mode.
 * A measurement, not a test: on a shared machine the figures move from run to run.
 *
 *   npx tsx examples/batch/measure.ts [envelopes=1000] [costMs=5]
 *
 * Runs its own embedded nats-server (store in a temp folder); sends from orders.example to
 * shop.example with the example's demo keys.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { batchHandler, loadConfig, parseConfig, startMailroom, type Handler, type MailroomConfig } from '../../src/index.ts';

const N = Number(process.argv[2] ?? 1000);
const COST_MS = Number(process.argv[3] ?? 5);
const SUBJECT = 'Order@Shop';

/** One call at a time, `COST_MS` each, whatever it carries (0: no resource at all, to see the runtime alone). */
let queue: Promise<void> = Promise.resolve();
const roundTrip = (): Promise<void> => (COST_MS > 0 ? (queue = queue.then(() => new Promise((resolve) => setTimeout(resolve, COST_MS)))) : Promise.resolve());

async function measure(name: string, base: MailroomConfig, storeDir: string, handler: Handler, batch?: { maxSize: number; maxWait: string }): Promise<void> {
  const config = parseConfig(
    {
      nats: { embedded: { storeDir }, prefix: `batch${name.replace(/\W/g, '')}` },
      http: { port: 0 },
      domains: base.domains.map((d) => ({ name: d.name, selector: d.selector, privateKey: d.privateKey })),
      delivery: { concurrency: 64, subjects: batch ? { [SUBJECT]: { batch } } : {} },
    },
    { env: {} },
  );
  const mailroom = await startMailroom(config, { http: false, handlers: { 'shop.example': { [SUBJECT]: handler } }, onError: () => undefined });
  try {
    let done = 0;
    let finished: () => void = () => undefined;
    const all = new Promise<void>((resolve) => (finished = resolve));
    mailroom.events.on('settled', (status) => {
      if (status.subject === SUBJECT && status.final && ++done === N) finished();
    });
    const started = performance.now();
    await Promise.all(Array.from({ length: N }, (_, i) => mailroom.send({ From: 'orders.example', To: 'shop.example', Subject: SUBJECT, Body: { i } })));
    await all;
    const seconds = (performance.now() - started) / 1000;
    console.log(`${name.padEnd(24)} ${N} envelopes in ${seconds.toFixed(2)} s: ${Math.round(N / seconds)} envelopes/s`);
  } finally {
    await mailroom.stop();
  }
}

const base = await loadConfig(fileURLToPath(new URL('./mailroom.yaml', import.meta.url)), { env: {} });
const storeDir = await mkdtemp(join(tmpdir(), 'mailroom-batch-measure-'));
try {
  console.log(`each handler call costs ${COST_MS} ms on a resource that serves one call at a time`);
  const single: Handler = async () => {
    await roundTrip();
  };
  await measure('one per call', base, storeDir, single);
  for (const maxSize of [10, 50]) {
    await measure(`batches of ≤ ${maxSize}`, base, storeDir, batchHandler(async (items) => {
      await roundTrip();
      return items.map(() => undefined);
    }), { maxSize, maxWait: '20ms' });
  }
} finally {
  await rm(storeDir, { recursive: true, force: true });
}
