import { ConfigError, KeyFormatError, KeyLookupError } from '../errors.ts';
import { queryDs, queryTxt, type DsLookup, type TxtLookup, type TxtQueryOptions } from './dns-client.ts';
import { dkimRecordName, isDnsName, normaliseDomain } from './dkim-record-name.ts';
import { resolveDnsServers } from './dns-servers.ts';
import type { KeyResolver } from './key-resolver.ts';
import { parsePublicKey, type PublicKey } from './public-key.ts';

/**
 * Why a DNS answer was not used as a key; the look-up then resolves to `undefined`.
 * - `invalid-name`: the domain or selector cannot form a DNS name; nothing was asked.
 * - `not-authenticated`: `requireDnssec` is set and the TXT answer lacks the AD flag.
 * - `ds-not-authenticated`: `requireDnssec` is set and the DS answer for `pw.{domain}` lacks the AD flag.
 * - `ds-missing`: `requireDnssec` is set and `pw.{domain}` has no DS record (the zone is not a signed delegation).
 * - `invalid-key`: a DKIM record (one with `p=`) whose key cannot be read (`cause` says why;
 *   an empty `p=` is a revoked key).
 */
export interface DnsKeyRejection {
  readonly reason: 'invalid-name' | 'not-authenticated' | 'ds-not-authenticated' | 'ds-missing' | 'invalid-key';
  readonly domain: string;
  readonly selector: string;
  /** The name that was (or would have been) asked for. */
  readonly name: string;
  readonly cause?: KeyFormatError;
}

export interface DnsKeyResolverOptions {
  /** `'host'` or `'host:port'` (IP addresses; `[v6]:port`). Default: the nameservers of /etc/resolv.conf, else 127.0.0.1:53. */
  servers?: readonly string[];
  /**
   * Accept a key only when DNSSEC vouches for it, as the reference implementation checks:
   * the AD flag on the TXT answer and on the DS answer of `pw.{domain}`. Default `true`;
   * `false` is the explicit opt-out for a resolver that does not validate.
   */
  requireDnssec?: boolean;
  /** How long to wait for one server's answer, per try. Default 2000. */
  timeoutMs?: number;
  /** Rounds over all servers before giving up. Default 2. */
  tries?: number;
  /** Told about each answer that was not used as a key (for logs); the look-up still resolves to `undefined`. */
  onRejected?: (rejection: DnsKeyRejection) => void;
}

const looksLikeDkim = (txt: string): boolean => /(^|;)\s*p\s*=/i.test(txt);

function validOptions(options: DnsKeyResolverOptions): TxtQueryOptions {
  const timeoutMs = options.timeoutMs ?? 2000;
  const tries = options.tries ?? 2;
  if (!(timeoutMs > 0)) throw new ConfigError(`timeoutMs must be positive, got ${timeoutMs}`, [{ path: 'timeoutMs', message: 'must be positive' }]);
  if (!Number.isInteger(tries) || tries < 1) throw new ConfigError(`tries must be a whole number >= 1, got ${tries}`, [{ path: 'tries', message: 'must be >= 1' }]);
  return { servers: resolveDnsServers(options.servers), timeoutMs, tries, dnssec: options.requireDnssec ?? true };
}

/**
 * Creates a resolver that reads a sender's key from DNS: the TXT record at
 * `{selector}._domainkey.pw.{domain}` (see `dkimRecordName`), asked of the configured
 * servers over UDP, and over TCP when the UDP answer is truncated.
 *
 * Outcomes:
 * - no selector, NXDOMAIN, or no TXT record with `p=` at the name: `undefined`;
 * - several TXT records: the first DKIM record (with `p=`) whose key parses wins, the
 *   others are ignored; the character-strings of one record are joined;
 * - a DKIM record whose key is malformed, revoked (`p=` empty) or of an unsupported type:
 *   treated as no key, `undefined`, because the sender published nothing we can verify
 *   with and retrying will not change that. The `KeyFormatError` is passed to `onRejected`
 *   as `cause`, so it can be logged;
 * - `requireDnssec` (the default) and the TXT answer lacks the AD flag, or the DS record
 *   set of `pw.{domain}` is missing or lacks it: `undefined` (reported to `onRejected` as
 *   `not-authenticated`, `ds-missing` or `ds-not-authenticated`): an unauthenticated key
 *   must not be trusted (the reference implementation checks the same two flags). The AD
 *   flag is only as trustworthy as the path to the resolver, so point `servers` at a
 *   validating resolver on a trusted link;
 * - every server timed out, failed (SERVFAIL, REFUSED) or was unreachable in all `tries`:
 *   rejects with `KeyLookupError` (its `cause` a `DnsQueryError`).
 *
 * Put `createCachedKeyResolver` in front of it: it caches nothing itself.
 *
 * @throws ConfigError at creation when a server, `timeoutMs` or `tries` is invalid.
 * @example
 * ```ts
 * const dns = createDnsKeyResolver({ servers: ['127.0.0.1:53'] }); // DNSSEC required; { requireDnssec: false } to opt out
 * const key = await dns.resolve('sender.example.com', 'pw1'); // PublicKey | undefined
 * ```
 */
export function createDnsKeyResolver(options: DnsKeyResolverOptions = {}): KeyResolver {
  const query = validOptions(options);
  const report = (rejection: DnsKeyRejection): void => {
    try {
      options.onRejected?.(rejection);
    } catch {
      // a logging hook must not change the outcome of a look-up
    }
  };

  return {
    async resolve(domain, selector) {
      if (selector === undefined || selector === '') return undefined;
      const name = dkimRecordName(domain, selector);
      if (!isDnsName(name)) {
        report({ reason: 'invalid-name', domain, selector, name });
        return undefined;
      }
      const answer: TxtLookup = await lookUp(() => queryTxt(name, query), domain, selector);
      const dkim = answer.records.filter(looksLikeDkim);
      if (dkim.length === 0) return undefined;
      if (query.dnssec) {
        if (!answer.authenticated) {
          report({ reason: 'not-authenticated', domain, selector, name });
          return undefined;
        }
        const zone = `pw.${normaliseDomain(domain)}`;
        const ds = await lookUp(() => queryDs(zone, query), domain, selector);
        const refusal = dsRefusal(ds);
        if (refusal) {
          report({ reason: refusal, domain, selector, name: zone });
          return undefined;
        }
      }
      return firstReadableKey(dkim, (cause) => report({ reason: 'invalid-key', domain, selector, name, cause }));
    },
  };
}

/** A DNS query whose failure is the look-up's: `KeyLookupError`, its `cause` the `DnsQueryError`. */
async function lookUp<T>(ask: () => Promise<T>, domain: string, selector: string): Promise<T> {
  try {
    return await ask();
  } catch (cause) {
    throw new KeyLookupError(`looking up the key of ${domain} (selector ${selector}) failed: ${(cause as Error).message}`, domain, selector, { cause });
  }
}

/** Why the DS answer of `pw.{domain}` does not vouch for the key, if it does not. */
function dsRefusal(ds: DsLookup): 'ds-missing' | 'ds-not-authenticated' | undefined {
  if (ds.records === 0) return 'ds-missing';
  return ds.authenticated ? undefined : 'ds-not-authenticated';
}

function firstReadableKey(records: readonly string[], onInvalid: (cause: KeyFormatError) => void): PublicKey | undefined {
  for (const record of records) {
    try {
      return parsePublicKey(record);
    } catch (error) {
      onInvalid(error instanceof KeyFormatError ? error : new KeyFormatError('unreadable DKIM record', { cause: error }));
    }
  }
  return undefined;
}
