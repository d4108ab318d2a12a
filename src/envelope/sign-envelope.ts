import { randomUUID, sign } from 'node:crypto';
import type { PrivateKey } from '../keys/public-key.ts';
import { hashHex, joinCanonical, utf8Bytes, validatedHeaderJson, writeParsedJcs } from './canonical.ts';
import { EnvelopeDraftError } from './envelope-draft-error.ts';
import { validateEnvelope } from './envelope-schema.ts';
import { rememberBodyText } from './encode-envelope.ts';
import { hasLoneSurrogate, inspectJson } from './json-tree.ts';
import { LosslessBody, toLossless, type CanonicalForm } from './lossless-body.ts';
import { defaultParseLimits } from './parse-limits.ts';
import { pythonJson } from './python-canonical.ts';
import { MSG_SCHEMA, type Envelope } from './types.ts';

/** What a sender fills in; the rest (Schema, Correlation, Timestamp, Hash, Signature) is made by `signEnvelope`. */
export interface EnvelopeDraft {
  /** Defaults to `Anonymous`. */
  From?: string;
  To: string;
  Subject: string;
  /** Defaults to `{}`. A {@link LosslessBody} keeps its number tokens on the wire and in the Python form. */
  Body?: Envelope['Body'] | LosslessBody;
  /** Defaults to a random UUID. */
  Correlation?: string;
  /** Defaults to now, `YYYY-MM-DDTHH:MM:SS.mmmZ`. */
  Timestamp?: string;
  /** The sender's key selector; left out when empty. */
  Selector?: string;
}

export interface SignOptions {
  /** The clock for a missing Timestamp. */
  readonly now?: () => Date;
  /**
   * The canonical form hashed and signed: `jcs` (RFC 8785, the protocol's; default) or
   * `python`, the reference implementation's sorted `json.dumps`, for a peer that verifies
   * only that form. The two differ only for non-integer numbers, integers beyond 2^53 and
   * keys outside the BMP.
   */
  readonly canonical?: CanonicalForm;
}

/**
 * Completes, validates and signs a draft: Hash is the SHA-256 of the canonical bytes,
 * Signature is Ed25519 (or RSA PKCS#1 v1.5 SHA-256) over them.
 *
 * @example
 * const envelope = signEnvelope({ From: 'sender.example.com', To: 'receiver.example.org', Subject: 'Hello@Host', Selector: 'pw1', Body: { text: 'hi' } }, key);
 * await send(encodeEnvelope(envelope));
 * @throws EnvelopeDraftError when the draft would not validate.
 */
export function signEnvelope(draft: EnvelopeDraft, key: PrivateKey, options?: SignOptions): Envelope {
  const prepared = prepareEnvelope(draft, options);
  return finishEnvelope(prepared, signBytes(prepared.bytes, key));
}

/** Signs signature bytes somewhere else (a worker pool): `sign(bytes, key)` → the signature. */
export interface EnvelopeSigner {
  sign(bytes: Uint8Array, key: PrivateKey): Promise<Uint8Array>;
}

/** {@link signEnvelope} with the signature made by `signer` (e.g. on the crypto pool); the rest runs here. */
export async function signEnvelopeAsync(draft: EnvelopeDraft, key: PrivateKey, signer: EnvelopeSigner, options?: SignOptions): Promise<Envelope> {
  const prepared = prepareEnvelope(draft, options);
  return finishEnvelope(prepared, await signer.sign(prepared.bytes, key));
}

/** A completed, validated draft with its canonical bytes and their hash, waiting for its signature. */
export interface PreparedEnvelope {
  readonly Header: Envelope['Header'];
  readonly Body: Envelope['Body'];
  /** The Body's wire text when it must be written as given (a {@link LosslessBody}). */
  readonly bodyText?: string;
  /** The canonical bytes the signature covers. */
  readonly bytes: Uint8Array;
  readonly Hash: string;
}

/** @internal The draft checks, defaults, validation, canonical bytes and hash of {@link signEnvelope}. */
export function prepareEnvelope(draft: EnvelopeDraft, options?: SignOptions): PreparedEnvelope {
  const lossless = draft.Body instanceof LosslessBody ? draft.Body : undefined;
  const body = lossless ? lossless.plain() : (draft.Body ?? {});
  const fault = typeof body === 'string' ? inspectJson(body, 1) : inspectJson(body, defaultParseLimits.maxDepth - 1);
  if (fault) throw new EnvelopeDraftError(`the Body is not sendable JSON: ${fault.code} at ${fault.path.replace('$', 'Body')}`, 'Body', fault.code);
  for (const field of ['Subject', 'Selector'] as const) {
    const value = draft[field];
    if (typeof value === 'string' && hasLoneSurrogate(value)) throw new EnvelopeDraftError(`${field} contains a lone surrogate`, `Header.${field}`, 'lone-surrogate');
  }
  const wire = {
    Header: {
      Schema: MSG_SCHEMA,
      From: draft.From,
      To: draft.To,
      Subject: draft.Subject,
      Correlation: draft.Correlation ?? randomUUID(),
      Timestamp: draft.Timestamp ?? (options?.now ?? (() => new Date()))().toISOString(),
      Selector: draft.Selector,
    },
    Body: body,
    Hash: '',
    Signature: '',
  };
  const validated = validateEnvelope(wire);
  if (!validated.ok) {
    const { detail, field = '$', code } = validated.error;
    throw new EnvelopeDraftError(`the draft is not a valid envelope: ${detail}`, field, code);
  }
  const { Header, Body } = validated.value;
  // `inspectJson` has ruled out what `canonicalize` guards against (anything but plain objects and
  // arrays, so class instances with `toJSON`; function or `undefined` members; cycles, by depth; lone
  // surrogates; non-finite numbers): the parsed-tree writer gives the same text, without those guards.
  const bodyJson = options?.canonical === 'python' ? pythonJson(lossless ? lossless.tree : toLossless(Body)) : writeParsedJcs(Body);
  const bytes = utf8Bytes(joinCanonical(bodyJson, validatedHeaderJson(Header)));
  return { Header, Body, ...(lossless ? { bodyText: lossless.text() } : {}), bytes, Hash: hashHex(bytes) };
}

/** @internal The envelope of `prepared` with its signature. */
export function finishEnvelope(prepared: PreparedEnvelope, signature: Uint8Array): Envelope {
  const envelope = { Header: prepared.Header, Body: prepared.Body, Hash: prepared.Hash, Signature: Buffer.from(signature.buffer, signature.byteOffset, signature.byteLength).toString('base64') };
  if (prepared.bodyText !== undefined) rememberBodyText(envelope, prepared.bodyText);
  return envelope;
}

/** @internal Ed25519 over the bytes, or RSA PKCS#1 v1.5 with SHA-256. */
export function signBytes(bytes: Uint8Array, key: PrivateKey): Buffer {
  return sign(key.algorithm === 'ed25519' ? null : 'sha256', bytes, key.key);
}
