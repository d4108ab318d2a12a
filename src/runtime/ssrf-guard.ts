import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import ipaddr from 'ipaddr.js';
import { SsrfBlockedError } from '../errors/delivery-errors.ts';

export { SsrfBlockedError };

/** The ipaddr.js range name of an address; IPv4-mapped IPv6 is judged as its IPv4 address. */
function addressRange(address: string): string {
  let parsed = ipaddr.parse(address);
  if (parsed.kind() === 'ipv6' && (parsed as ipaddr.IPv6).isIPv4MappedAddress()) parsed = (parsed as ipaddr.IPv6).toIPv4Address();
  return parsed.range();
}

/** True only for globally routable unicast addresses. */
export function isPublicAddress(address: string): boolean {
  return ipaddr.isValid(address) && addressRange(address) === 'unicast';
}

type LookupCallback = (error: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/**
 * A `lookup` for node:http(s) requests that refuses non-public addresses. The check runs on
 * the very addresses the socket connects to, so DNS rebinding cannot slip past it.
 */
export function guardedLookup(hostname: string, options: { all?: boolean; family?: number | string }, callback: LookupCallback): void {
  createGuardedLookup(dnsLookup)(hostname, options, callback);
}

/** The resolver a guarded lookup asks: `dns.lookup` with `{ all: true }`, or a stand-in in tests. */
export type AddressResolver = (hostname: string, options: { all: true; family: number }, callback: (error: NodeJS.ErrnoException | null, addresses: LookupAddress[]) => void) => void;

/** {@link guardedLookup} over another resolver. */
export function createGuardedLookup(resolver: AddressResolver) {
  return (hostname: string, options: { all?: boolean; family?: number | string }, callback: LookupCallback): void => guarded(resolver, hostname, options, callback);
}

function guarded(resolver: AddressResolver, hostname: string, options: { all?: boolean; family?: number | string }, callback: LookupCallback): void {
  resolver(hostname, { all: true, family: typeof options.family === 'number' ? options.family : 0 }, (error, addresses) => {
    if (error) return callback(error, options.all ? [] : '');
    const blocked = addresses.find((a) => !isPublicAddress(a.address));
    if (blocked) {
      return callback(Object.assign(new SsrfBlockedError(hostname, blocked.address, addressRange(blocked.address)), { code: 'ESSRF' }), options.all ? [] : '');
    }
    if (options.all) return callback(null, addresses);
    const first = addresses[0]!;
    return callback(null, first.address, first.family);
  });
}

/** Checks a URL whose host is an IP literal (no lookup happens for those). */
export function assertPublicLiteral(url: URL): void {
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  if (ipaddr.isValid(host) && !isPublicAddress(host)) throw new SsrfBlockedError(url.hostname, host, addressRange(host));
  if (host === 'localhost' || host.endsWith('.localhost')) throw new SsrfBlockedError(url.hostname, host, 'loopback');
}
