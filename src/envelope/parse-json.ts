import { parse as parseLossless } from 'lossless-json';
import { countKeys, inspectJson, isPlainObject } from './json-tree.ts';
import { NumberToken, type LosslessValue } from './number-token.ts';
import { malformedDocument, type ParsedDocument } from './parsed-document.ts';
import { ScanFlag, scanJson } from './scan-json.ts';
import { ok, type Result } from './types.ts';

/** Only these can hide a lone surrogate or a number that overflows to Infinity. */
const NEEDS_INSPECTION = ScanFlag.Exponent | ScanFlag.LongInteger | ScanFlag.EscapedSurrogate;
const MAY_DIFFER = ScanFlag.Float | ScanFlag.LongInteger | ScanFlag.EscapedSurrogate | ScanFlag.NonBmp;

/**
 * @internal Parses JSON text within limits. The fast path is `JSON.parse` after a linear
 * scan (depth bound, key count for duplicate detection, feature flags); the lossless parse
 * (lossless-json, about 3x slower) runs only when the Python-compatible form is asked for
 * and could differ.
 */
export function parseJson(text: string, maxDepth: number): Result<ParsedDocument> {
  const scan = scanJson(text, maxDepth);
  if (scan === 'too-deep') return malformedDocument('too-deep', `nesting deeper than ${maxDepth}`);
  if (scan === 'lone-surrogate') return malformedDocument('lone-surrogate', 'the text contains a lone surrogate');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (cause) {
    return malformedDocument('invalid-json', cause instanceof Error ? cause.message : 'not valid JSON');
  }
  if (!isPlainObject(value)) return malformedDocument('not-an-object', 'the document is not an object');
  // JSON.parse keeps the last of duplicate keys; the scan counted every key token.
  if (countKeys(value) !== scan.keys) return malformedDocument('duplicate-key', 'an object has a duplicate key');
  if ((scan.flags & NEEDS_INSPECTION) !== 0) {
    const fault = inspectJson(value, maxDepth);
    if (fault) return malformedDocument(fault.code, `${describe(fault.code)} at ${fault.path}`);
  }
  const losslessBody = (scan.flags & MAY_DIFFER) !== 0 ? () => losslessJsonBody(text) : undefined;
  return ok({ value, losslessBody });
}

function describe(code: string): string {
  return code === 'lone-surrogate' ? 'a lone surrogate' : code === 'non-finite-number' ? 'a number out of range' : code;
}

/** The Body of already-validated JSON text, numbers kept as their tokens. */
function losslessJsonBody(text: string): LosslessValue | undefined {
  try {
    const tree = parseLossless(text, null, { parseNumber: (token) => new NumberToken(token) });
    return isPlainObject(tree) ? (tree.Body as LosslessValue | undefined) : undefined;
  } catch {
    return undefined;
  }
}
