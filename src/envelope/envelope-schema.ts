import { z } from 'zod';
import { isAddress, isDomainName, isEnvelopeTimestamp, isUuid } from './envelope-fields.ts';
import { isPlainObject } from './json-tree.ts';
import { MSG_SCHEMA, ok, rejected, type Envelope, type EnvelopeHeader, type Result } from './types.ts';

/** The header as it may appear on the wire, before normalisation. Unknown fields are dropped. */
export const WireHeader = z.object({
  Schema: z.string(),
  From: z
    .string()
    .nullish()
    .refine((v) => v == null || v === '' || v === 'Anonymous' || isAddress(v), 'From must be a domain name, a UUID or Anonymous'),
  To: z.string().refine(isAddress, 'To must be a domain name or a UUID'),
  Subject: z.string().min(1, 'Subject must not be empty'),
  Correlation: z.string().refine(isUuid, 'Correlation must be a UUID'),
  Timestamp: z.string().refine(isEnvelopeTimestamp, 'Timestamp must be YYYY-MM-DDTHH:MM:SS[.mmm]Z and a real date'),
  Selector: z.string().nullish(),
});
export type WireHeader = z.infer<typeof WireHeader>;

/** An object or a string; missing or null means `{}`. Its contents were checked by the parser. */
export const WireBody = z
  .custom<Envelope['Body'] | null>((v) => v === null || typeof v === 'string' || isPlainObject(v), 'Body must be an object or a string')
  .optional();
export type WireBody = z.infer<typeof WireBody>;

/**
 * The envelope as it may appear on the wire. Unknown top-level fields are dropped. `Hash` and
 * `Signature` may both be left out (an unsigned envelope, e.g. the protocol's public requests
 * from `Anonymous`); one without the other is malformed.
 */
export const WireEnvelope = z.object({ Header: WireHeader, Body: WireBody, Hash: z.string().optional(), Signature: z.string().optional() });
export type WireEnvelope = z.infer<typeof WireEnvelope>;

/** Order in which field verdicts are reported (the spec's reading order). */
const FIELD_ORDER = ['Header', 'Header.From', 'Header.To', 'Header.Subject', 'Header.Correlation', 'Header.Timestamp', 'Header.Selector', 'Body', 'Hash', 'Signature'];
const MSG_VERSION = /^(?:pollyweb\.org\/|\.)MSG:\d+\.\d+$/;

/**
 * Checks a parsed document against MSG 1.0 and normalises it (Schema, Anonymous From, `{}`
 * Body, empty Selector dropped). Verdicts: Header.Schema first (`unsupported-schema` for a
 * well-formed other version), then the first bad field in `FIELD_ORDER` as `malformed`.
 */
export function validateEnvelope(doc: Record<string, unknown>): Result<Envelope> {
  const validated = validateWireEnvelope(doc);
  return validated.ok ? ok(validated.value.envelope) : validated;
}

/**
 * @internal {@link validateEnvelope}, also giving the header as signed: domain names in
 * From and To are lower-cased in `envelope` (domains compare case-insensitively, so
 * `To: SHOP.EXAMPLE` is `shop.example`), while the canonical bytes must use them as the
 * sender wrote them.
 */
export function validateWireEnvelope(doc: Record<string, unknown>): Result<{ envelope: Envelope; signedHeader: EnvelopeHeader }> {
  const header = doc.Header;
  if (!isPlainObject(header)) return rejected('malformed', 'Header must be an object', { field: 'Header', code: header === undefined ? 'missing' : 'wrong-type' });
  const schema = header.Schema;
  if (schema !== MSG_SCHEMA && schema !== '.MSG' && schema !== '.MSG:1.0') {
    if (typeof schema === 'string' && MSG_VERSION.test(schema)) {
      return rejected('unsupported-schema', `Schema ${schema} is not supported (expected ${MSG_SCHEMA})`, { field: 'Header.Schema' });
    }
    return rejected('malformed', `Schema must be ${MSG_SCHEMA}`, { field: 'Header.Schema', code: schema === undefined ? 'missing' : 'invalid' });
  }
  const parsed = WireEnvelope.safeParse(doc);
  if (!parsed.success) return firstIssue(parsed.error.issues, doc);
  const { Header: h, Body } = parsed.data;
  if ((parsed.data.Hash === undefined) !== (parsed.data.Signature === undefined)) {
    const field = parsed.data.Hash === undefined ? 'Hash' : 'Signature';
    return rejected('malformed', `${field} is missing`, { field, code: 'missing' });
  }
  const Hash = parsed.data.Hash ?? '';
  const Signature = parsed.data.Signature ?? '';
  const From = h.From === null || h.From === undefined || h.From === '' ? 'Anonymous' : h.From;
  const Header: EnvelopeHeader = h.Selector
    ? { Schema: MSG_SCHEMA, From, To: h.To, Subject: h.Subject, Correlation: h.Correlation, Timestamp: h.Timestamp, Selector: h.Selector }
    : { Schema: MSG_SCHEMA, From, To: h.To, Subject: h.Subject, Correlation: h.Correlation, Timestamp: h.Timestamp };
  const from = lowerDomain(From);
  const To = lowerDomain(h.To);
  const envelope = { Header: from === From && To === h.To ? Header : { ...Header, From: from, To }, Body: Body ?? {}, Hash, Signature };
  return ok({ envelope, signedHeader: Header });
}

/**
 * Whether an envelope came without `Hash` and `Signature` (both left out, or both empty): it
 * proves nothing about its sender. Only a domain's public subjects accept one (see
 * `src/runtime/public-envelopes.ts`); everywhere else it is refused as `malformed` (Hash missing).
 */
export function isUnsigned(envelope: Pick<Envelope, 'Hash' | 'Signature'>): boolean {
  return envelope.Hash === '' && envelope.Signature === '';
}

/** A domain name in lower case; a UUID or `Anonymous` as it is. */
function lowerDomain(address: string): string {
  return isDomainName(address) ? address.toLowerCase() : address;
}

function firstIssue(issues: readonly z.core.$ZodIssue[], doc: Record<string, unknown>): Result<never> {
  let best: { issue: z.core.$ZodIssue; field: string; rank: number } | undefined;
  for (const issue of issues) {
    const field = issue.path.slice(0, 2).map(String).join('.') || '$';
    const index = FIELD_ORDER.indexOf(field);
    const rank = index < 0 ? FIELD_ORDER.length : index;
    if (!best || rank < best.rank) best = { issue, field, rank };
  }
  if (!best) return rejected('malformed', 'the envelope is not valid', { field: '$' });
  const raw = valueAt(doc, best.issue.path);
  const code = raw === undefined ? 'missing' : best.issue.code === 'invalid_type' || best.field === 'Body' ? 'wrong-type' : 'invalid';
  const detail = raw === undefined ? `${best.field} is missing` : best.issue.message;
  return rejected('malformed', detail, { field: best.field, code });
}

function valueAt(doc: Record<string, unknown>, path: readonly PropertyKey[]): unknown {
  let at: unknown = doc;
  for (const key of path) {
    if (!isPlainObject(at) || typeof key !== 'string') return undefined;
    at = at[key];
  }
  return at;
}
