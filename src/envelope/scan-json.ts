/**
 * @internal One linear pass over JSON text before `JSON.parse`: bounds the nesting depth
 * (so hostile input never reaches a parser), counts object keys (so duplicates, which
 * `JSON.parse` silently collapses, can be detected by comparing with the parsed tree),
 * and notes the rare features that need a second look. The pass only has to agree with
 * `JSON.parse` on text that `JSON.parse` accepts; for anything else the parse fails anyway.
 */

/** Bits of `JsonScan.flags`. */
export const ScanFlag = {
  /** A number token with a fraction or an exponent: Python writes it as a float. */
  Float: 1,
  /** An integer token of 16+ digits: may not survive a trip through a double. */
  LongInteger: 2,
  /** A `\uD800`-`\uDFFF` escape: a lone surrogate or an escaped non-BMP character. */
  EscapedSurrogate: 4,
  /** A raw character outside the Basic Multilingual Plane. */
  NonBmp: 8,
  /** A number token with an exponent (with 16+ digits, the only way to overflow to Infinity). */
  Exponent: 16,
} as const;

export interface JsonScan {
  /** Number of `:` outside strings, which in valid JSON is the number of object keys. */
  readonly keys: number;
  readonly flags: number;
}

export type JsonScanFailure = 'too-deep' | 'lone-surrogate';

const QUOTE = 0x22;
const SURROGATE = /[\uD800-\uDFFF]/;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
// May also match an escaped backslash followed by "ud800"; a false positive only costs a closer look.
const SURROGATE_ESCAPE = /\\u[dD][89a-fA-F]/;

/** Scans `text`; fails fast on nesting deeper than `maxDepth` or a raw lone surrogate. */
export function scanJson(text: string, maxDepth: number): JsonScan | JsonScanFailure {
  let flags = 0;
  if (SURROGATE.test(text)) {
    if (LONE_SURROGATE.test(text)) return 'lone-surrogate';
    flags |= ScanFlag.NonBmp;
  }
  if (text.includes('\\u') && SURROGATE_ESCAPE.test(text)) flags |= ScanFlag.EscapedSurrogate;
  const n = text.length;
  let depth = 0;
  let keys = 0;
  let digits = 0;
  let prev = 0;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      i = stringEnd(text, i);
      prev = QUOTE;
      digits = 0;
      continue;
    }
    if (c >= 0x30 && c <= 0x39) {
      if (++digits === 16) flags |= ScanFlag.LongInteger;
    } else {
      digits = 0;
      switch (c) {
        case 0x7b: // {
        case 0x5b: // [
          if (++depth > maxDepth) return 'too-deep';
          break;
        case 0x7d: // }
        case 0x5d: // ]
          depth--;
          break;
        case 0x3a: // :
          keys++;
          break;
        case 0x2e: // .
          flags |= ScanFlag.Float;
          break;
        case 0x45: // E
          flags |= ScanFlag.Float | ScanFlag.Exponent;
          break;
        case 0x65: // e is an exponent only right after a digit (not in true/false)
          if (prev >= 0x30 && prev <= 0x39) flags |= ScanFlag.Float | ScanFlag.Exponent;
          break;
      }
    }
    prev = c;
  }
  return { keys, flags };
}

/** Index of the quote closing the string opened at `open` (or the text's length). */
function stringEnd(text: string, open: number): number {
  let at = open;
  for (;;) {
    at = text.indexOf('"', at + 1);
    if (at < 0) return text.length;
    let backslashes = 0;
    while (text.charCodeAt(at - 1 - backslashes) === 0x5c) backslashes++;
    if (backslashes % 2 === 0) return at;
  }
}
