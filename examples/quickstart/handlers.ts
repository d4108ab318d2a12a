/**
 * shop.example's handlers, by subject. Each gets the verified envelope and returns the
 * Body of the signed reply (or throws RetryableError / FinalError).
 */
import { FinalError, type HandlerContext, type HandlerMap } from '../../src/index.ts';

const handlers: HandlerMap = {
  'Hello@Host': ({ from, body }: HandlerContext) => ({
    text: `hello ${from}, you said ${JSON.stringify(typeof body === 'string' ? body : body.text ?? body)}`,
  }),
  'Quote@Shop': ({ body }: HandlerContext) => {
    const item = typeof body === 'object' ? body.item : undefined;
    if (typeof item !== 'string') throw new FinalError('Body.item must name an item', 'bad-request');
    return { item, price: { amount: 42, currency: 'EUR' } };
  },
};

export default handlers;
