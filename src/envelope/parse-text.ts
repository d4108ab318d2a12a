import { resolveLimits, type ParseLimits } from './parse-limits.ts';
import { parseJson } from './parse-json.ts';
import { parseYaml } from './parse-yaml.ts';
import { malformedDocument, type ParsedDocument } from './parsed-document.ts';
import { rejected, type Result } from './types.ts';

export type TextFormat = 'json' | 'yaml' | 'auto';

export interface ParseOptions {
  /** `auto` (the default): JSON when the first non-space character is `{`, else YAML. */
  readonly format?: TextFormat;
  readonly limits?: Partial<ParseLimits>;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * @internal Bounded parse of JSON or YAML text into a plain document. The size bound is
 * checked first, on the byte length, before anything is decoded or scanned. Never throws
 * for bad input.
 */
export function parseText(input: string | Uint8Array, options?: ParseOptions): Result<ParsedDocument> {
  const limits = resolveLimits(options?.limits);
  if (exceedsBytes(input, limits.maxBytes)) {
    return rejected('too-large', `the envelope is larger than ${limits.maxBytes} bytes`, { field: '$', code: 'too-large' });
  }
  let text: string;
  if (typeof input === 'string') {
    text = input.charCodeAt(0) === 0xfeff ? input.slice(1) : input;
  } else {
    try {
      text = utf8.decode(input); // drops a leading BOM
    } catch {
      return malformedDocument('invalid-utf8', 'the bytes are not valid UTF-8');
    }
  }
  const format = options?.format ?? 'auto';
  return format === 'json' || (format === 'auto' && looksLikeJson(text)) ? parseJson(text, limits.maxDepth) : parseYaml(text, limits);
}

function exceedsBytes(input: string | Uint8Array, maxBytes: number): boolean {
  if (typeof input !== 'string') return input.byteLength > maxBytes;
  // A UTF-16 code unit is 1-3 UTF-8 bytes (a surrogate pair, two units, is 4): decide
  // from the length alone when that settles it, so a huge string is never walked.
  if (input.length > maxBytes) return true;
  if (input.length * 3 <= maxBytes) return false;
  return Buffer.byteLength(input, 'utf8') > maxBytes;
}

function looksLikeJson(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c !== 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) return c === 0x7b;
  }
  return false;
}
