/**
 * Batch handlers with Mailroom: orders.example sends 25 orders to shop.example, whose
 * `Order@Shop` handler takes them ten at a time (examples/batch/handlers.ts).
 *
 *   npx tsx examples/batch/run.ts
 *
 * Starts an embedded nats-server (store in examples/batch/.mailroom), sends the orders as
 * requests, prints each order's outcome and the size of each batch, and stops.
 */
import { fileURLToPath } from 'node:url';
import { loadConfig, startMailroom } from '../../src/index.ts';
import { batchSizes } from './handlers.ts';

const config = await loadConfig(fileURLToPath(new URL('./mailroom.yaml', import.meta.url)), { env: {} });
const mailroom = await startMailroom(config, { http: false });
try {
  // Order 7 asks for nothing: the shop refuses it alone; the other orders of its batch are replied to.
  const orders = Array.from({ length: 25 }, (_, i) => ({ item: `item-${i + 1}`, quantity: i + 1 === 7 ? 0 : i + 1 }));
  const outcomes = await Promise.all(orders.map((body) => mailroom.request({ from: 'orders.example', to: 'shop.example', subject: 'Order@Shop', body, timeoutMs: 30_000 })));
  for (const [i, outcome] of outcomes.entries()) {
    console.log(`order ${i + 1}: ${outcome.state === 'replied' ? JSON.stringify(outcome.reply.body) : outcome.state === 'discarded' ? `refused (${outcome.reason})` : 'timed out'}`);
  }
  console.log(`${orders.length} orders in ${batchSizes.length} handler calls: ${batchSizes.join(', ')}`);
  if (outcomes.filter((o) => o.state === 'replied').length !== 24 || outcomes[6]?.state !== 'discarded') process.exitCode = 1;
} finally {
  await mailroom.stop();
}
