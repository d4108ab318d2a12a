/**
 * Keys: parsing, the static keyring, the DNS resolver, the cache, key generation.
 */
export { decodeStrictBase64, parseDkimTags, parsePrivateKey, parsePublicKey, rawEd25519Base64 } from './public-key.ts';
export type { PrivateKey, PublicKey } from './public-key.ts';
export type { KeyResolver } from './key-resolver.ts';
export { createStaticKeyring } from './static-keyring.ts';
export type { KeyringEntry, StaticKeyring } from './static-keyring.ts';
export { createDnsKeyResolver } from './dns-key-resolver.ts';
export type { DnsKeyRejection, DnsKeyResolverOptions } from './dns-key-resolver.ts';
export { DnsQueryError } from './dns-client.ts';
export type { DnsFailure } from './dns-client.ts';
export { dkimRecordName } from './dkim-record-name.ts';
export { createCachedKeyResolver } from './cached-key-resolver.ts';
export type { CachedKeyResolver, CachedKeyResolverOptions } from './cached-key-resolver.ts';
export { chainKeyResolvers } from './chain-key-resolvers.ts';
export { generateDomainKeys } from './generate-domain-keys.ts';
export type { GeneratedDomainKeys } from './generate-domain-keys.ts';
