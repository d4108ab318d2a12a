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
  // The common case, a valid envelope, is checked by hand; zod reads only what fails, for its verdict.
  let fields = wireFieldsOf(doc, header);
  if (fields === undefined) {
    const parsed = WireEnvelope.safeParse(doc);
    if (!parsed.success) return firstIssue(parsed.error.issues, doc);
    // Unreachable while the hand-written checks mirror the schema (a test holds them to it); if they drift, the schema decides.
    fields = wireFieldsOf(parsed.data as Record<string, unknown>, parsed.data.Header, true);
    if (fields === undefined) throw new Error('envelope schema: the schema accepted fields the hand-written checks cannot read');
  }
  const { Hash: hash, Signature: signature } = fields;
  if ((hash === undefined) !== (signature === undefined)) {
    const field = hash === undefined ? 'Hash' : 'Signature';
    return rejected('malformed', `${field} is missing`, { field, code: 'missing' });
  }
  const Hash = hash ?? '';
  const Signature = signature ?? '';
  const { From, To: to, Subject, Correlation, Timestamp, Selector } = fields;
  const Header: EnvelopeHeader = Selector
    ? { Schema: MSG_SCHEMA, From, To: to, Subject, Correlation, Timestamp, Selector }
    : { Schema: MSG_SCHEMA, From, To: to, Subject, Correlation, Timestamp };
  const from = fields.fromIsDomain ? From.toLowerCase() : From;
  const To = fields.toIsDomain ? to.toLowerCase() : to;
  const envelope = { Header: from === From && To === to ? Header : { ...Header, From: from, To }, Body: fields.Body ?? {}, Hash, Signature };
  return ok({ envelope, signedHeader: Header });
}

/** @internal The fields of a document that {@link WireEnvelope} accepts (From normalised to `Anonymous`), or `undefined` if it refuses it. */
export interface ValidFields {
  readonly From: string;
  readonly fromIsDomain: boolean;
  readonly To: string;
  readonly toIsDomain: boolean;
  readonly Subject: string;
  readonly Correlation: string;
  readonly Timestamp: string;
  readonly Selector: string | null | undefined;
  readonly Body: Envelope['Body'] | null | undefined;
  readonly Hash: string | undefined;
  readonly Signature: string | undefined;
}

/**
 * @internal {@link WireEnvelope}'s checks, field by field, for a document whose Header is a
 * plain object with a supported Schema: the same predicates, without building zod's result.
 * Accepts exactly what the schema accepts (test/envelope/fast-paths.test.ts); names no field,
 * since a refusal goes to zod for its verdict. `trusted`: the schema accepted the fields already,
 * so they are read, not judged.
 */
export function wireFieldsOf(doc: Record<string, unknown>, h: Record<string, unknown>, trusted = false): ValidFields | undefined {
  const { From: from, To, Subject, Correlation, Timestamp, Selector } = h;
  const { Body, Hash, Signature } = doc;
  if (typeof To !== 'string' || typeof Subject !== 'string' || typeof Correlation !== 'string' || typeof Timestamp !== 'string') return undefined;
  if (!trusted && (Subject.length === 0 || !isUuid(Correlation) || !isEnvelopeTimestamp(Timestamp))) return undefined;
  if (Selector !== undefined && Selector !== null && typeof Selector !== 'string') return undefined;
  if (Body !== undefined && Body !== null && typeof Body !== 'string' && !isPlainObject(Body)) return undefined;
  if ((Hash !== undefined && typeof Hash !== 'string') || (Signature !== undefined && typeof Signature !== 'string')) return undefined;
  const toIsDomain = isDomainName(To);
  if (!trusted && !toIsDomain && !isUuid(To)) return undefined;
  let From = 'Anonymous';
  let fromIsDomain = false;
  if (from !== undefined && from !== null && from !== '') {
    if (typeof from !== 'string') return undefined;
    if (from !== 'Anonymous') {
      fromIsDomain = isDomainName(from);
      if (!trusted && !fromIsDomain && !isUuid(from)) return undefined;
    }
    From = from;
  }
  return { From, fromIsDomain, To, toIsDomain, Subject, Correlation, Timestamp, Selector, Body: Body as Envelope['Body'] | null | undefined, Hash, Signature };
}

/**
 * Whether an envelope came without `Hash` and `Signature` (both left out, or both empty): it
 * proves nothing about its sender. Only a domain's public subjects accept one (see
 * `src/runtime/public-envelopes.ts`); everywhere else it is refused as `malformed` (Hash missing).
 */
export function isUnsigned(envelope: Pick<Envelope, 'Hash' | 'Signature'>): boolean {
  return envelope.Hash === '' && envelope.Signature === '';
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
