import type { PublicKey } from './public-key.ts';

/**
 * Finds the public key a sender signs with.
 *
 * - resolves to the key when there is one;
 * - resolves to `undefined` when there is no such key: the envelope is then discarded
 *   as `key-not-found`;
 * - rejects with a `KeyLookupError` when the look-up failed for a transient reason
 *   (DNS timeout, SERVFAIL, network): the envelope should be retried later, not discarded.
 *
 * `selector` is the envelope's `Selector`, `undefined` when the header has none.
 */
export interface KeyResolver {
  resolve(domain: string, selector: string | undefined): Promise<PublicKey | undefined>;
}
