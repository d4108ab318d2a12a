/**
 * The MSG 1.0 envelope: bounded JSON/YAML decoding, schema, canonical bytes, sign, verify.
 */
export { decodeEnvelope } from './decode-envelope.ts';
export type { DecodedEnvelope, DecodeOptions } from './decode-envelope.ts';
export { verifyDecoded, verifyDecodedAsync, verifyEnvelopeText } from './verify-envelope.ts';
export type { EnvelopeVerifier } from './verify-envelope.ts';
export { signEnvelope, signEnvelopeAsync } from './sign-envelope.ts';
export type { EnvelopeDraft, EnvelopeSigner, SignOptions } from './sign-envelope.ts';
export { LosslessBody, parseLosslessBody, canonicalForms } from './lossless-body.ts';
export type { CanonicalForm } from './lossless-body.ts';
export { createCanonicalPolicy } from './canonical-policy.ts';
export type { CanonicalPolicy } from './canonical-policy.ts';
export { EnvelopeDraftError } from './envelope-draft-error.ts';
export { encodeEnvelope } from './encode-envelope.ts';
export { canonicalBytes, hashHex } from './canonical.ts';
export { defaultParseLimits } from './parse-limits.ts';
export type { ParseLimits } from './parse-limits.ts';
export type { TextFormat } from './parse-text.ts';
export { WireEnvelope, WireHeader, WireBody } from './envelope-schema.ts';
export { isAddress, isDomainName, isUuid, isEnvelopeTimestamp } from './envelope-fields.ts';
export { MSG_SCHEMA, envelopeReasons, ok, rejected } from './types.ts';
export type { Envelope, EnvelopeHeader, EnvelopeReason, JsonValue, Rejection, Result } from './types.ts';
