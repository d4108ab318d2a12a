/**
 * Field formats of the MSG 1.0 header (spec: "Wire form"). Plain predicates, no
 * backtracking-prone patterns: they run on every inbound envelope.
 */

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const LABEL = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;
/**
 * The top-level label as the Python reference implementation of the protocol accepts it:
 * letters only, 2-63 of them, or an IDNA `xn--` label (issue 17 records the rule, checked
 * against the reference; `a.b`, `shop.c0m` and `shop.x1` are refused).
 */
const TOP_LABEL = /^(?:[A-Za-z]{2,63}|[Xx][Nn]--[A-Za-z0-9-]{1,59})$/;
const TIMESTAMP = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.\d{3})?Z$/;

/** The few names a runtime sees over and over (its own domains, its peers): their verdicts, remembered. */
const DOMAIN_CACHE_SIZE = 1024;
const domainVerdicts = new Map<string, boolean>();

/** Any 8-4-4-4-12 hex UUID, either case (versions and variants are not checked). */
export function isUuid(text: string): boolean {
  return UUID.test(text);
}

/**
 * A DNS host name of two or more labels (letters, digits, inner hyphens, 1-63 each, at
 * most 253 in all) whose last label is 2-63 letters or an `xn--` label, as the reference
 * implementation requires (so IPv4 literals are not names either). Internationalised names
 * must be in their `xn--` form. Either case; compare lower-cased.
 */
export function isDomainName(text: string): boolean {
  if (text.length > 253) return false;
  const known = domainVerdicts.get(text);
  if (known !== undefined) return known;
  // Bounded: a stream of distinct names (say, forged senders) costs a clear now and then, never memory.
  if (domainVerdicts.size >= DOMAIN_CACHE_SIZE) domainVerdicts.clear();
  const verdict = checkDomainName(text);
  domainVerdicts.set(text, verdict);
  return verdict;
}

function checkDomainName(text: string): boolean {
  const labels = text.split('.');
  if (labels.length < 2) return false;
  for (const label of labels) if (!LABEL.test(label)) return false;
  return TOP_LABEL.test(labels[labels.length - 1]!);
}

/** A domain name or a UUID (a wallet). */
export function isAddress(text: string): boolean {
  return isDomainName(text) || isUuid(text);
}

/** `YYYY-MM-DDTHH:MM:SS[.mmm]Z` (exactly three fraction digits if any) naming a real instant. */
export function isEnvelopeTimestamp(text: string): boolean {
  const m = TIMESTAMP.exec(text);
  if (!m) return false;
  const year = Number(m[1]);
  const month = Number(m[2]);
  const day = Number(m[3]);
  if (year < 1 || month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return false;
  return Number(m[4]) <= 23 && Number(m[5]) <= 59 && Number(m[6]) <= 59;
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}
