import type { Envelope } from '../envelope/types.ts';
import type { Names } from '../transport/names.ts';

/** Chooses an envelope's ordering key; `undefined` = no order needed (the shared inbox). */
export type OrderingKey = (header: Envelope['Header']) => string | undefined;

/** FNV-1a: a stable, cheap hash, the same in every process. */
export function partitionOf(key: string, partitions: number): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    hash ^= key.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0) % partitions;
}

/**
 * The inbox subject of an envelope: the shared inbox, or, when it has an ordering key, the
 * ordered partition of that key (one message in flight per partition, so envelopes with the
 * same key are handled one at a time, in arrival order, across retries and processes).
 */
export function createInboxRouter(names: Names, orderingKey: OrderingKey | undefined, partitions: number) {
  return (header: Pick<Envelope['Header'], 'From' | 'To'> & Partial<Envelope['Header']>): string => {
    const key = orderingKey && partitions > 0 ? orderingKey(header as Envelope['Header']) : undefined;
    return key === undefined ? names.inboxSubject(header.To, header.From) : names.ordered.subject(partitionOf(key, partitions), header.To, header.From);
  };
}
