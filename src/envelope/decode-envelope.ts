import { decodeStrictBase64 } from '../keys/public-key.ts';
import { joinCanonical, utf8Bytes, validatedHeaderJson, writeParsedJcs } from './canonical.ts';
import { validateWireEnvelope } from './envelope-schema.ts';
import type { LosslessValue } from './number-token.ts';
import { parseText, type ParseOptions } from './parse-text.ts';
import { pythonJson } from './python-canonical.ts';
import { ok, rejected, type Envelope, type Result } from './types.ts';

/** A structurally valid envelope with its canonical bytes, ready to verify. */
export interface DecodedEnvelope {
  /** Normalised: Schema `pollyweb.org/MSG:1.0`, `Anonymous` From, domain names in From and To lower-cased, `{}` Body when missing or null, empty Selector dropped. */
  readonly envelope: Envelope;
  /** RFC 8785 canonical bytes of `{Body, Header{Correlation, From, Schema, Subject, Timestamp, To, [Selector]}}`. */
  readonly canonical: Uint8Array;
  /**
   * The Python-reference canonical form(s) that differ from `canonical` (floats written as
   * `repr(float)`, exact big integers, code-point key order); `[]` when identical.
   * Computed on first call.
   */
  alternates(): readonly Uint8Array[];
}

export type DecodeOptions = ParseOptions;

class Decoded implements DecodedEnvelope {
  #alternates: readonly Uint8Array[] | undefined;
  readonly #signature: Uint8Array;
  readonly #headerJson: string;
  readonly #losslessBody: (() => LosslessValue | undefined) | undefined;

  constructor(
    readonly envelope: Envelope,
    readonly canonical: Uint8Array,
    signature: Uint8Array,
    headerJson: string,
    losslessBody: (() => LosslessValue | undefined) | undefined,
  ) {
    this.#signature = signature;
    this.#headerJson = headerJson;
    this.#losslessBody = losslessBody;
  }

  alternates(): readonly Uint8Array[] {
    this.#alternates ??= this.#computeAlternates();
    return this.#alternates;
  }

  #computeAlternates(): readonly Uint8Array[] {
    if (!this.#losslessBody || typeof this.envelope.Body === 'string') return [];
    const body = this.#losslessBody();
    if (body === undefined || body === null || typeof body !== 'object' || Array.isArray(body)) return [];
    const bytes = utf8Bytes(joinCanonical(pythonJson(body), this.#headerJson));
    return sameBytes(bytes, this.canonical) ? [] : [bytes];
  }

  /** @internal The signature bytes, decoded once during `decodeEnvelope`. */
  static signatureOf(decoded: DecodedEnvelope): Uint8Array | undefined {
    return #signature in decoded ? decoded.#signature : undefined;
  }
}

/** @internal The strictly decoded signature, cached by `decodeEnvelope`, or decoded now. */
export function signatureBytes(decoded: DecodedEnvelope): Uint8Array | undefined {
  return Decoded.signatureOf(decoded) ?? decodeStrictBase64(decoded.envelope.Signature);
}

/**
 * Parses JSON or YAML text (bounded: size, depth, aliases, duplicates...) and validates it
 * as an MSG 1.0 envelope. Never throws for bad input: every refusal is a named `Rejection`
 * (`too-large`, `unsupported-schema`, or `malformed` with `field` and `code`).
 *
 * @example
 * const decoded = decodeEnvelope(requestBody);
 * if (!decoded.ok) return discard(decoded.error);
 * const verified = verifyDecoded(decoded.value, senderKey);
 */
export function decodeEnvelope(input: string | Uint8Array, options?: DecodeOptions): Result<DecodedEnvelope> {
  const parsed = parseText(input, options);
  if (!parsed.ok) return parsed;
  const validated = validateWireEnvelope(parsed.value.value);
  if (!validated.ok) return validated;
  const { envelope, signedHeader } = validated.value;
  const signature = decodeStrictBase64(envelope.Signature);
  if (!signature) return rejected('malformed', 'Signature is not standard padded base64', { field: 'Signature', code: 'not-base64' });
  const headerJson = validatedHeaderJson(signedHeader);
  const canonical = utf8Bytes(joinCanonical(writeParsedJcs(envelope.Body), headerJson));
  return ok(new Decoded(envelope, canonical, signature, headerJson, parsed.value.losslessBody));
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(a, b) === 0;
}
