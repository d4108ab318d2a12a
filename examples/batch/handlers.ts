/**
 * shop.example's handlers. `Order@Shop` is a batch subject (see mailroom.yaml): its handler gets
 * up to ten orders in one call and returns one result per order, in the same order: a reply
 * Body, or a `FinalError` to refuse that order alone (a `RetryableError` would retry it alone).
 */
import { batchHandler, FinalError, type HandlerContext, type HandlerMap } from '../../src/index.ts';

/** How many orders each call got, for run.ts to print. */
export const batchSizes: number[] = [];

const handlers: HandlerMap = {
  'Order@Shop': batchHandler((orders: readonly HandlerContext[]) => {
    batchSizes.push(orders.length);
    // One round trip for the whole batch would go here (a bulk insert, one API call).
    return orders.map(({ body }) => {
      const { item, quantity } = body as { item: string; quantity: number };
      if (quantity <= 0) return new FinalError(`cannot order ${quantity} of ${item}`, 'bad-quantity');
      return { item, quantity, accepted: true, batchOf: orders.length };
    });
  }),
};

export default handlers;
