import { verify } from 'node:crypto';
import type { PublicKey } from '../keys/public-key.ts';
import { hashHex } from './canonical.ts';
import { decodeEnvelope, signatureBytes, type DecodedEnvelope, type DecodeOptions } from './decode-envelope.ts';
import { isUnsigned } from './envelope-schema.ts';
import { ok, rejected, type Result } from './types.ts';

/**
 * Checks a decoded envelope's Hash and Signature against `key`. The canonical bytes are
 * tried first, then the Python-compatible alternates; the Hash picks the bytes and the
 * Signature must verify over those same bytes. Returns the bytes that verified.
 *
 * Refusals: `hash-mismatch` (the Hash covers none of the forms; compared exactly, so an
 * upper-case Hash does not match), `bad-signature`, or `malformed` (field `Signature`,
 * code `not-base64`) for a signature that is not strict padded base64.
 *
 * @example
 * const verified = verifyDecoded(decoded, await keys.resolve(from, selector));
 * if (!verified.ok) return discard(verified.error);
 */
export function verifyDecoded(decoded: DecodedEnvelope, key: PublicKey): Result<{ canonical: Uint8Array }> {
  const signed = signedBytes(decoded);
  if (!signed.ok) return signed;
  const { covered, signature } = signed.value;
  if (!verifySignature(covered, signature, key)) return rejected('bad-signature', 'the Signature does not verify with the sender key');
  return ok({ canonical: covered });
}

/** The checks before the signature: base64 Signature, then the byte form (canonical, or a reference alternate) the Hash covers. */
function signedBytes(decoded: DecodedEnvelope): Result<{ covered: Uint8Array; signature: Uint8Array }> {
  if (isUnsigned(decoded.envelope)) return rejected('malformed', 'Hash is missing: the envelope is unsigned (no Hash, no Signature)', { field: 'Hash', code: 'missing' });
  const signature = signatureBytes(decoded);
  if (!signature) return rejected('malformed', 'Signature is not standard padded base64', { field: 'Signature', code: 'not-base64' });
  const { Hash } = decoded.envelope;
  const covered = hashHex(decoded.canonical) === Hash ? decoded.canonical : decoded.alternates().find((bytes) => hashHex(bytes) === Hash);
  if (!covered) return rejected('hash-mismatch', 'the Hash does not match the canonical bytes');
  return ok({ covered, signature });
}

/**
 * Verifies signature bytes somewhere else (a worker pool): false for a bad signature; a
 * rejection is a fault of the verifier (a closed pool), not a verdict, so callers retry.
 */
export interface EnvelopeVerifier {
  verify(bytes: Uint8Array, signature: Uint8Array, key: PublicKey): Promise<boolean>;
}

/**
 * {@link verifyDecoded} with the signature checked by `verifier` (e.g. on the crypto pool):
 * the base64, hash and byte-form checks run here, the same as the synchronous version.
 */
export async function verifyDecodedAsync(decoded: DecodedEnvelope, key: PublicKey, verifier: EnvelopeVerifier): Promise<Result<{ canonical: Uint8Array }>> {
  const signed = signedBytes(decoded);
  if (!signed.ok) return signed;
  const { covered, signature } = signed.value;
  const valid = key.algorithm === 'ed25519' && signature.length !== 64 ? false : await verifier.verify(covered, signature, key);
  if (!valid) return rejected('bad-signature', 'the Signature does not verify with the sender key');
  return ok({ canonical: covered });
}

/**
 * Decodes and verifies in one step.
 *
 * @example
 * const result = verifyEnvelopeText(text, parsePublicKey(pem));
 * if (result.ok) handle(result.value.envelope);
 */
export function verifyEnvelopeText(input: string | Uint8Array, key: PublicKey, options?: DecodeOptions): Result<DecodedEnvelope> {
  const decoded = decodeEnvelope(input, options);
  if (!decoded.ok) return decoded;
  const verified = verifyDecoded(decoded.value, key);
  return verified.ok ? decoded : verified;
}

/** @internal Ed25519 over the bytes, or RSA PKCS#1 v1.5 with SHA-256. Never throws. */
export function verifySignature(bytes: Uint8Array, signature: Uint8Array, key: PublicKey): boolean {
  if (key.algorithm === 'ed25519' && signature.length !== 64) return false;
  try {
    return verify(key.algorithm === 'ed25519' ? null : 'sha256', bytes, key.key, signature);
  } catch {
    return false;
  }
}
