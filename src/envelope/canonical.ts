import canonicalize from 'canonicalize';
import * as crypto from 'node:crypto';
import type { Envelope, EnvelopeHeader } from './types.ts';

const utf8 = new TextEncoder();

/**
 * The signed header fields in RFC 8785 order (UTF-16 code unit order of the ASCII names),
 * as a JSON object. Selector only when non-empty. Written by hand because the field set
 * is fixed: this is exactly what `canonicalize` produces for it, without walking it.
 */
export function canonicalHeaderJson(header: EnvelopeHeader): string {
  const q = JSON.stringify;
  const selector = header.Selector ? `,"Selector":${q(header.Selector)}` : '';
  return (
    `{"Correlation":${q(header.Correlation)},"From":${q(header.From)},"Schema":${q(header.Schema)}${selector}` +
    `,"Subject":${q(header.Subject)},"Timestamp":${q(header.Timestamp)},"To":${q(header.To)}}`
  );
}

/**
 * @internal {@link canonicalHeaderJson} of a header the envelope schema accepted: its From, To,
 * Correlation and Timestamp are domain names, UUIDs, `Anonymous` or a timestamp, which hold no
 * character JSON escapes, so only Subject and Selector go through `JSON.stringify`. Same text.
 */
export function validatedHeaderJson(header: EnvelopeHeader): string {
  const q = JSON.stringify;
  const selector = header.Selector ? `,"Selector":${q(header.Selector)}` : '';
  return (
    `{"Correlation":"${header.Correlation}","From":"${header.From}","Schema":"${header.Schema}"${selector}` +
    `,"Subject":${q(header.Subject)},"Timestamp":"${header.Timestamp}","To":"${header.To}"}`
  );
}

/**
 * RFC 8785 (JCS) text of a Body.
 * @throws Error from `canonicalize` for values JSON cannot carry (NaN, lone surrogates, cycles).
 */
export function canonicalBodyJson(body: Envelope['Body']): string {
  const text = canonicalize(body);
  if (text === undefined) throw new TypeError('the Body has no JSON form');
  return text;
}

/**
 * @internal RFC 8785 text of a value that came out of `JSON.parse` (or was checked by
 * `inspectJson`): the same output as `canonicalize`, which the property tests assert, at
 * about a third of its cost because such a tree needs none of its guards (cycles,
 * `toJSON`, `undefined`, lone surrogates, non-finite numbers were all ruled out).
 */
export function writeParsedJcs(value: unknown): string {
  if (typeof value !== 'object' || value === null) return JSON.stringify(value);
  let out: string;
  if (Array.isArray(value)) {
    out = '[';
    for (let i = 0; i < value.length; i++) out += (i ? ',' : '') + writeParsedJcs(value[i]);
    return `${out}]`;
  }
  const record = value as Record<string, unknown>;
  const keys = Object.keys(record).sort(); // UTF-16 code unit order, as RFC 8785 asks
  out = '{';
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i]!;
    out += `${i ? ',' : ''}${JSON.stringify(key)}:${writeParsedJcs(record[key])}`;
  }
  return `${out}}`;
}

/** `{"Body":…,"Header":…}` from its two already-serialised members (keys in JCS order). */
export function joinCanonical(bodyJson: string, headerJson: string): string {
  return `{"Body":${bodyJson},"Header":${headerJson}}`;
}

export function utf8Bytes(text: string): Uint8Array {
  return utf8.encode(text);
}

/**
 * The canonical bytes that are hashed and signed: RFC 8785 (JCS) of
 * `{Body, Header{Correlation, From, Schema, Subject, Timestamp, To, [Selector]}}`, UTF-8.
 *
 * @example
 * const bytes = canonicalBytes(envelope.Header, envelope.Body);
 * hashHex(bytes) === envelope.Hash;
 * @throws Error when the Body holds values JSON cannot carry (NaN, lone surrogates).
 */
export function canonicalBytes(header: EnvelopeHeader, body: Envelope['Body']): Uint8Array {
  return utf8.encode(joinCanonical(canonicalBodyJson(body), canonicalHeaderJson(header)));
}

/** Node's one-shot digest (20.12 and later): no Hash object per call. */
const oneShotHash: typeof crypto.hash | undefined = typeof crypto.hash === 'function' ? crypto.hash : undefined;

/** Lower-case hex SHA-256. */
export function hashHex(bytes: Uint8Array): string {
  return oneShotHash ? oneShotHash('sha256', bytes, 'hex') : crypto.createHash('sha256').update(bytes).digest('hex');
}
