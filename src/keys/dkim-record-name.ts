/**
 * The DNS name of a sender's key record: `{selector}._domainkey.pw.{domain}` (spec, "Keys").
 * The domain is lower-cased and a trailing dot dropped; nothing else is checked.
 *
 * @example
 * ```ts
 * dkimRecordName('sender.example.com', 'pw1'); // 'pw1._domainkey.pw.sender.example.com'
 * ```
 */
export function dkimRecordName(domain: string, selector: string): string {
  return `${selector}._domainkey.pw.${normaliseDomain(domain)}`;
}

/** Lower-cases a domain and drops one trailing dot. @internal */
export function normaliseDomain(domain: string): string {
  const lower = domain.trim().toLowerCase();
  return lower.endsWith('.') ? lower.slice(0, -1) : lower;
}

const LABEL = /^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$/i;

/**
 * Whether `name` can be asked for in DNS: 1-63 byte labels of letters, digits, `-` and `_`
 * (no leading or trailing `-`), at most 253 characters. Internationalised names must
 * already be in their `xn--` form. @internal
 */
export function isDnsName(name: string): boolean {
  if (name.length === 0 || name.length > 253) return false;
  return name.split('.').every((label) => LABEL.test(label));
}
