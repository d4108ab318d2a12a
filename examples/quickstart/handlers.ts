/**
 * shop.example's handlers, by subject. Each gets the verified envelope and returns the
 * Body of the signed reply (or throws RetryableError / FinalError).
 */
import { existsSync } from 'node:fs';
import { FinalError, RetryableError, type HandlerContext, type HandlerMap } from '../../src/index.ts';

/**
 * The quick start's dead letter: `Reserve@Shop` fails while the warehouse is "offline", i.e.
 * until the file `examples/quickstart/warehouse.online` exists (git-ignored). Each failure is
 * retried (delivery.maxAttempts in mailroom.yaml), then the envelope is dead-lettered; create
 * the file and `mailroom dlq replay ID` puts it through again.
 */
const warehouseOnline = () => existsSync(new URL('./warehouse.online', import.meta.url));

const handlers: HandlerMap = {
  'Hello@Host': ({ from, body }: HandlerContext) => ({
    text: `hello ${from}, you said ${JSON.stringify(typeof body === 'string' ? body : body.text ?? body)}`,
  }),
  'Quote@Shop': ({ body }: HandlerContext) => {
    const item = typeof body === 'object' ? body.item : undefined;
    if (typeof item !== 'string') throw new FinalError('Body.item must name an item', 'bad-request');
    return { item, price: { amount: 42, currency: 'EUR' } };
  },
  'Reserve@Shop': ({ body }: HandlerContext) => {
    if (!warehouseOnline()) throw new RetryableError('the warehouse is offline (touch examples/quickstart/warehouse.online to bring it up)');
    const item = typeof body === 'object' && typeof body.item === 'string' ? body.item : 'book';
    return { item, reserved: true };
  },
};

export default handlers;
