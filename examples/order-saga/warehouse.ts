/**
 * warehouse.example's handlers: another domain, hosted by the same runtime here, reached only
 * by signed envelopes. Each handler's return value is the Body of the signed reply; a
 * FinalError discards the request (the shop's saga sees it as the request's error).
 *
 * Reservations are keyed by the request's sender and correlation, so a redelivered envelope
 * does not reserve twice.
 */
import { FinalError, type HandlerContext, type HandlerMap } from '../../src/index.ts';

export interface Warehouse {
  readonly handlers: HandlerMap;
  /** Units on hand, by SKU. */
  stock(sku: string): number;
  /** Reservations held now, by reservation ID. */
  reservations(): ReadonlyMap<string, { readonly orderId: string; readonly sku: string; readonly qty: number }>;
}

export function createWarehouse(initial: Readonly<Record<string, number>>): Warehouse {
  const stock = new Map(Object.entries(initial));
  const reservations = new Map<string, { orderId: string; sku: string; qty: number }>();
  const byRequest = new Map<string, string>();
  let next = 0;

  const reserve = ({ from, correlation, body }: HandlerContext) => {
    const { orderId, sku, qty } = (typeof body === 'object' ? body : {}) as { orderId?: unknown; sku?: unknown; qty?: unknown };
    if (typeof orderId !== 'string' || typeof sku !== 'string' || typeof qty !== 'number' || !(qty > 0)) {
      throw new FinalError('Body needs orderId, sku and a positive qty', 'bad-request');
    }
    const key = `${from}/${correlation}`;
    const earlier = byRequest.get(key);
    if (earlier) return { reservationId: earlier, sku, qty };
    const onHand = stock.get(sku) ?? 0;
    if (onHand < qty) throw new FinalError(`out of stock: ${onHand} of ${sku} on hand, ${qty} asked`, 'out-of-stock');
    stock.set(sku, onHand - qty);
    const reservationId = `rsv_${++next}_${orderId}`;
    reservations.set(reservationId, { orderId, sku, qty });
    byRequest.set(key, reservationId);
    return { reservationId, sku, qty };
  };

  const release = ({ body }: HandlerContext) => {
    const { reservationId } = (typeof body === 'object' ? body : {}) as { reservationId?: unknown };
    if (typeof reservationId !== 'string') throw new FinalError('Body needs reservationId', 'bad-request');
    const reservation = reservations.get(reservationId);
    // Releasing twice (a retried request) is fine: the second time there is nothing left to give back.
    if (reservation) {
      stock.set(reservation.sku, (stock.get(reservation.sku) ?? 0) + reservation.qty);
      reservations.delete(reservationId);
    }
    return { released: reservationId };
  };

  return {
    handlers: { 'Reserve@Warehouse': reserve, 'Release@Warehouse': release },
    stock: (sku) => stock.get(sku) ?? 0,
    reservations: () => reservations,
  };
}
