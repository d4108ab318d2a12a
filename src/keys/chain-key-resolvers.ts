import type { KeyResolver } from './key-resolver.ts';

/**
 * Asks each resolver in turn; the first defined answer wins.
 *
 * A resolver that fails (throws) does not stop the chain: the later ones are still asked,
 * and the first defined answer still wins. Only when no resolver has the key and at least
 * one of them failed does the chain reject, with the first failure, because "not found"
 * cannot be claimed while a source was unreachable.
 *
 * @example
 * ```ts
 * const keys = chainKeyResolvers(
 *   createStaticKeyring([{ domain: 'partner.example', key: pinnedPem }]),
 *   createCachedKeyResolver(createDnsKeyResolver({ requireDnssec: true })),
 * );
 * ```
 */
export function chainKeyResolvers(...resolvers: KeyResolver[]): KeyResolver {
  return {
    async resolve(domain, selector) {
      let failure: { error: unknown } | undefined;
      for (const resolver of resolvers) {
        try {
          const key = await resolver.resolve(domain, selector);
          if (key !== undefined) return key;
        } catch (error) {
          failure ??= { error };
        }
      }
      if (failure) throw failure.error;
      return undefined;
    },
  };
}
