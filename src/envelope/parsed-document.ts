import { rejected, type Result } from './types.ts';
import type { LosslessValue } from './number-token.ts';

/** @internal What the bounded parser hands to the envelope schema. */
export interface ParsedDocument {
  /** The document: a plain object of plain JSON values. */
  readonly value: Record<string, unknown>;
  /**
   * Rebuilds the Body with its number tokens, for the Python-compatible canonical form.
   * `undefined` when that form cannot differ from JCS (no float or long-integer tokens,
   * no characters outside the BMP), which is the common case.
   */
  readonly losslessBody: (() => LosslessValue | undefined) | undefined;
}

/** A `malformed` verdict on the document as a whole (`field: '$'`). */
export function malformedDocument(code: string, detail: string): Result<never> {
  return rejected('malformed', detail, { field: '$', code });
}
