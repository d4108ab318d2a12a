import { parse as parseLossless } from 'lossless-json';
import { isPlainObject, setOwn } from './json-tree.ts';
import { NumberToken, type LosslessValue } from './number-token.ts';
import { rejected, ok, type Envelope, type JsonValue, type Result } from './types.ts';

/** The canonical text a signature covers: RFC 8785 (JCS, the protocol's form) or the Python reference's sorted `json.dumps`. */
export type CanonicalForm = 'jcs' | 'python';
export const canonicalForms: readonly CanonicalForm[] = ['jcs', 'python'];

/**
 * A Body as its sender wrote it: numbers keep their tokens (`1.0`, `-0.0`,
 * `12345678901234567890`), so signing it neither rewrites them on the wire nor, in the
 * Python form, hashes other digits than the receiver reads. Made by {@link parseLosslessBody};
 * pass it as `EnvelopeDraft.Body`.
 */
export class LosslessBody {
  /** @internal */
  constructor(
    /** The tree, numbers as {@link NumberToken}s. */
    readonly tree: { [key: string]: LosslessValue } | string,
  ) {}

  /** The plain JSON value (numbers as doubles), what `JSON.parse` of {@link text} gives. */
  plain(): Envelope['Body'] {
    return toPlain(this.tree) as Envelope['Body'];
  }

  /** Compact JSON text with every number written as its token. */
  text(): string {
    return writeLossless(this.tree);
  }
}

/**
 * Parses Body text without losing number tokens: a JSON object or string; text that is not
 * JSON is the string itself. Refuses arrays, scalars, duplicate keys and lone surrogates.
 *
 * @example
 * const body = parseLosslessBody('{"price":1.0}');
 * if (body.ok) signEnvelope({ To, Subject, Body: body.value }, key);
 */
export function parseLosslessBody(text: string): Result<LosslessBody> {
  let tree: unknown;
  try {
    tree = parseLossless(text, null, (token) => new NumberToken(token));
  } catch (cause) {
    // Not JSON at all: plain text is a string body. JSON that only the lossless parser refuses (duplicate keys) is an error.
    if (!isJson(text)) return ok(new LosslessBody(text));
    return rejected('malformed', `the Body is not valid JSON: ${cause instanceof Error ? cause.message : String(cause)}`, { field: 'Body', code: 'invalid-json' });
  }
  if (typeof tree === 'string') return ok(new LosslessBody(tree));
  if (!isPlainObject(tree)) return rejected('malformed', 'the Body must be a JSON object or a string', { field: 'Body', code: 'wrong-type' });
  return ok(new LosslessBody(tree as { [key: string]: LosslessValue }));
}

/**
 * The member `key` of a JSON object text (a request such as `{"to": …, "body": {…}}`) as a
 * {@link LosslessBody}, numbers as written; `undefined` when the member is absent. Refuses text
 * that is not a JSON object, and a member that is not an object or a string.
 */
export function parseLosslessMember(text: string, key: string): Result<LosslessBody | undefined> {
  let tree: unknown;
  try {
    tree = parseLossless(text, null, (token) => new NumberToken(token));
  } catch (cause) {
    return rejected('malformed', `not valid JSON: ${cause instanceof Error ? cause.message : String(cause)}`, { field: key, code: 'invalid-json' });
  }
  if (!isPlainObject(tree)) return rejected('malformed', 'not a JSON object', { field: key, code: 'wrong-type' });
  if (!Object.prototype.hasOwnProperty.call(tree, key)) return ok(undefined);
  const member = (tree as { [k: string]: LosslessValue })[key];
  if (typeof member === 'string') return ok(new LosslessBody(member));
  if (isPlainObject(member)) return ok(new LosslessBody(member as { [k: string]: LosslessValue }));
  return rejected('malformed', `${key} must be a JSON object or a string`, { field: key, code: 'wrong-type' });
}

function isJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

function toPlain(value: LosslessValue): JsonValue {
  if (value instanceof NumberToken) return Number(value.token);
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map(toPlain);
  const out: { [key: string]: JsonValue } = {};
  for (const key of Object.keys(value)) setOwn(out, key, toPlain(value[key]!));
  return out;
}

/** Compact JSON, keys in their order, numbers as their tokens. */
export function writeLossless(value: LosslessValue): string {
  if (value instanceof NumberToken) return value.token;
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(writeLossless).join(',')}]`;
  return `{${Object.keys(value)
    .map((key) => `${JSON.stringify(key)}:${writeLossless(value[key]!)}`)
    .join(',')}}`;
}

/** A plain value as the receiver parses what `JSON.stringify` wrote of it: each number's token is its JSON text. */
export function toLossless(value: JsonValue): LosslessValue {
  if (typeof value === 'number') return new NumberToken(JSON.stringify(value));
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map(toLossless);
  const out: { [key: string]: LosslessValue } = {};
  for (const key of Object.keys(value)) setOwn(out, key, toLossless(value[key]!));
  return out;
}

/**
 * Cheap test before computing a second canonical form: only a non-integer number, an
 * integer beyond 2^53, or a key with a character outside the BMP can make the Python form
 * differ from JCS (strings are escaped alike, and integers are written alike). A walk
 * with an early exit; no text is built.
 */
export function mayDifferInPython(value: LosslessValue | JsonValue): boolean {
  if (typeof value === 'number') return !Number.isSafeInteger(value);
  if (value instanceof NumberToken) return !value.isInteger || value.token.replace('-', '').length > 15;
  if (value === null || typeof value !== 'object') return false;
  if (Array.isArray(value)) return value.some(mayDifferInPython);
  for (const key of Object.keys(value)) {
    if (/[\uD800-\uDBFF]/.test(key)) return true;
    if (mayDifferInPython((value as Record<string, LosslessValue | JsonValue>)[key]!)) return true;
  }
  return false;
}
