/**
 * Publish/subscribe with Mailroom: `order.placed` fans out to invoicing and shipping.
 *
 *   npx tsx examples/order-events/run.ts
 *
 * Starts an embedded nats-server (store in examples/order-events/.mailroom), publishes three
 * orders, prints what each subscriber handled, and stops.
 */
import { fileURLToPath } from 'node:url';
import { loadConfig, startMailroom, type HandlerContext } from '../../src/index.ts';

const config = await loadConfig(fileURLToPath(new URL('./mailroom.yaml', import.meta.url)), { env: {} });
const handled: string[] = [];
const note = (who: string) => ({ body, correlation }: HandlerContext) => {
  const order = body as { id: number; total: number };
  handled.push(`${who} handled order ${order.id} (${order.total} EUR), correlation ${correlation}`);
};

const mailroom = await startMailroom(config, {
  http: false,
  handlers: {
    'invoicing.example': { 'order.placed': note('invoicing') },
    'shipping.example': { 'order.placed': note('shipping') },
  },
});
try {
  for (const id of [1, 2, 3]) {
    const publication = await mailroom.publish({ from: 'orders.example', topic: 'order.placed', body: { id, total: 10 * id } });
    console.log(`published order ${id} to ${publication.deliveries.map((d) => d.subscriber).join(' and ')}`);
  }
  const deadline = Date.now() + 15_000;
  while (handled.length < 6 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
  for (const line of handled.sort()) console.log(line);
  if (handled.length < 6) process.exitCode = 1;
} finally {
  await mailroom.stop();
}
