import { KeyFormatError } from '../errors.ts';
import { normaliseDomain } from './dkim-record-name.ts';
import type { KeyResolver } from './key-resolver.ts';
import { parsePublicKey, type PublicKey } from './public-key.ts';

/** One pinned key of a static keyring (a config file, a test, a local setup). */
export interface KeyringEntry {
  /** The sender's domain (`From`). Compared case-insensitively, a trailing dot ignored. */
  domain: string;
  /** The key's selector. Left out, the entry matches any selector of the domain, and none. */
  selector?: string;
  /** A PEM (SPKI), a DKIM TXT value (`v=DKIM1; k=ed25519; p=...`) or base64 (raw 32 bytes or SPKI DER). */
  key: string;
}

/** A static keyring: a `KeyResolver` over pinned keys, to which keys can be added. */
export interface StaticKeyring extends KeyResolver {
  /**
   * Parses and adds one entry, replacing an earlier entry for the same domain and selector.
   * @throws KeyFormatError naming the entry when its key cannot be read; the keyring is unchanged.
   */
  add(entry: KeyringEntry): void;
}

interface DomainKeys {
  anySelector?: PublicKey;
  readonly bySelector: Map<string, PublicKey>;
}

function describe(entry: KeyringEntry): string {
  return entry.selector === undefined ? `keyring entry ${entry.domain}` : `keyring entry ${entry.domain} (selector ${entry.selector})`;
}

function parseEntry(entry: KeyringEntry): PublicKey {
  if (typeof entry.domain !== 'string' || normaliseDomain(entry.domain) === '') {
    throw new KeyFormatError(`${describe(entry)}: the domain is empty`);
  }
  try {
    return parsePublicKey(entry.key);
  } catch (cause) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    throw new KeyFormatError(`${describe(entry)}: ${reason}`, { cause });
  }
}

/**
 * Creates a keyring from pinned keys. Each key is parsed once, here (or in `add`), so
 * look-ups are map reads. A selector-less entry is the domain's fallback: it answers for
 * any selector that has no entry of its own, and for envelopes without a selector.
 * A domain or selector the keyring does not know resolves to `undefined`; it never throws.
 *
 * @throws KeyFormatError naming the first entry whose key cannot be read.
 * @example
 * ```ts
 * const keyring = createStaticKeyring([
 *   { domain: 'sender.example.com', selector: 'pw1', key: 'v=DKIM1; k=ed25519; p=bhGu...' },
 *   { domain: 'partner.example', key: readFileSync('partner.pem', 'utf8') },
 * ]);
 * const key = await keyring.resolve('sender.example.com', 'pw1');
 * ```
 */
export function createStaticKeyring(entries: readonly KeyringEntry[]): StaticKeyring {
  const domains = new Map<string, DomainKeys>();
  const add = (entry: KeyringEntry): void => {
    const key = parseEntry(entry);
    const domain = normaliseDomain(entry.domain);
    let keys = domains.get(domain);
    if (!keys) {
      keys = { bySelector: new Map() };
      domains.set(domain, keys);
    }
    if (entry.selector === undefined) keys.anySelector = key;
    else keys.bySelector.set(entry.selector, key);
  };
  for (const entry of entries) add(entry);

  return {
    add,
    resolve(domain, selector) {
      const keys = domains.get(normaliseDomain(domain));
      const key = selector === undefined ? undefined : keys?.bySelector.get(selector);
      return Promise.resolve(key ?? keys?.anySelector);
    },
  };
}
