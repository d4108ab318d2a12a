/**
 * What every throughput contender shares: the two domains' keys, the signed request
 * envelopes (~600 bytes), and the verify-and-sign handler — on the main thread with the
 * library's `verifyEnvelopeText` / `signEnvelope` / `encodeEnvelope`, or with its signature
 * work on the crypto worker pool (same steps, the Ed25519 calls awaited on the pool).
 */
import type { KeyObject } from 'node:crypto';
import { encodeEnvelope, signEnvelope, verifyEnvelopeText, decodeEnvelope, type EnvelopeDraft } from '../src/envelope/index.ts';
import { canonicalBodyJson, canonicalHeaderJson, hashHex, joinCanonical, utf8Bytes } from '../src/envelope/canonical.ts';
import { signatureBytes } from '../src/envelope/decode-envelope.ts';
import { validateEnvelope } from '../src/envelope/envelope-schema.ts';
import { EnvelopeDraftError } from '../src/envelope/envelope-draft-error.ts';
import { inspectJson } from '../src/envelope/json-tree.ts';
import { defaultParseLimits } from '../src/envelope/parse-limits.ts';
import { MSG_SCHEMA, type Envelope } from '../src/envelope/types.ts';
import { generateDomainKeys, parsePrivateKey, parsePublicKey } from '../src/keys/index.ts';
import type { CryptoPool } from '../src/runtime/crypto-pool.ts';

export const SENDER = 'orders.example';
export const RECEIVER = 'shop.example';
export const SELECTOR = 'pw1';

export const senderKeys = generateDomainKeys(SENDER, SELECTOR);
export const receiverKeys = generateDomainKeys(RECEIVER, SELECTOR);
const senderPrivate = parsePrivateKey(senderKeys.privateKeyPem);
const senderPublic = parsePublicKey(senderKeys.publicKeyPem);
const receiverPrivate = parsePrivateKey(receiverKeys.privateKeyPem);

export interface Envelopes {
  readonly payloads: readonly string[];
  readonly correlations: readonly string[];
  /** Each envelope's Hash and Signature, for its ingress message ID (`names.inboxMsgId`). */
  readonly proofs: readonly { readonly hash: string; readonly signature: string }[];
  /** The domain they are addressed to. */
  readonly to: string;
}

/** `count` signed `Hello@Host` requests from orders.example to `to` (shop.example), ~600 bytes each. */
export function makeEnvelopes(count: number, offset = 0, to = RECEIVER): Envelopes {
  const payloads: string[] = [];
  const correlations: string[] = [];
  const proofs: { hash: string; signature: string }[] = [];
  for (let i = 0; i < count; i++) {
    const envelope = signEnvelope(
      { From: SENDER, Selector: SELECTOR, To: to, Subject: 'Hello@Host', Body: { text: 'hello', n: offset + i, items: ['a', 'b', 'c'], note: 'x'.repeat(200) } },
      senderPrivate,
    );
    payloads.push(encodeEnvelope(envelope));
    correlations.push(envelope.Header.Correlation);
    proofs.push({ hash: envelope.Hash, signature: envelope.Signature });
  }
  return { payloads, correlations, proofs, to };
}

function replyDraft(request: Envelope): EnvelopeDraft {
  const { Header, Body } = request;
  return { From: RECEIVER, Selector: SELECTOR, To: Header.From, Subject: `Reply@${Header.Subject}`, Correlation: Header.Correlation, Body: { echo: Body } };
}

/** The handler every contender runs: decode + verify the request, sign the reply, encode it. Main thread. */
export function verifyAndSign(data: Uint8Array | string): string {
  const verified = verifyEnvelopeText(data, senderPublic);
  if (!verified.ok) throw new Error(`verify: ${verified.error.reason}`);
  return encodeEnvelope(signEnvelope(replyDraft(verified.value.envelope), receiverPrivate));
}

/**
 * `signEnvelope` with the signature made elsewhere: the same draft checks, validation,
 * canonical bytes and hash, then `signer(bytes)`. This is the split the runtime needs to
 * sign on the pool (see bench/README.md, "Wiring the crypto pool").
 */
export async function signEnvelopeWith(draft: EnvelopeDraft, signer: (bytes: Uint8Array) => Promise<Uint8Array>): Promise<Envelope> {
  const body = draft.Body ?? {};
  const fault = typeof body === 'string' ? inspectJson(body, 1) : inspectJson(body, defaultParseLimits.maxDepth - 1);
  if (fault) throw new EnvelopeDraftError(`the Body is not sendable JSON: ${fault.code}`, 'Body', fault.code);
  const validated = validateEnvelope({
    Header: { Schema: MSG_SCHEMA, From: draft.From, To: draft.To, Subject: draft.Subject, Correlation: draft.Correlation, Timestamp: draft.Timestamp ?? new Date().toISOString(), Selector: draft.Selector },
    Body: body,
    Hash: '',
    Signature: '',
  });
  if (!validated.ok) throw new EnvelopeDraftError(`the draft is not a valid envelope: ${validated.error.detail}`, validated.error.field ?? '$', validated.error.code);
  const { Header, Body } = validated.value;
  const bytes = utf8Bytes(joinCanonical(canonicalBodyJson(Body), canonicalHeaderJson(Header)));
  const signature = await signer(bytes);
  return { Header, Body, Hash: hashHex(bytes), Signature: Buffer.from(signature.buffer, signature.byteOffset, signature.byteLength).toString('base64') };
}

function der(key: KeyObject, type: 'spki' | 'pkcs8'): Uint8Array {
  return type === 'spki' ? key.export({ format: 'der', type: 'spki' }) : key.export({ format: 'der', type: 'pkcs8' });
}

/** The same handler with verify and sign awaited on the crypto pool; decode, hash and JSON stay on the main thread. */
export function pooledVerifyAndSign(pool: CryptoPool): (data: Uint8Array | string) => Promise<string> {
  const spki = der(senderPublic.key, 'spki');
  const pkcs8 = der(receiverPrivate.key, 'pkcs8');
  return async (data) => {
    const decoded = decodeEnvelope(data);
    if (!decoded.ok) throw new Error(`decode: ${decoded.error.reason}`);
    const signature = signatureBytes(decoded.value);
    if (!signature) throw new Error('verify: malformed signature');
    if (hashHex(decoded.value.canonical) !== decoded.value.envelope.Hash) throw new Error('verify: hash-mismatch');
    if (!(await pool.verify(decoded.value.canonical, signature, spki, 'ed25519'))) throw new Error('verify: bad-signature');
    return encodeEnvelope(await signEnvelopeWith(replyDraft(decoded.value.envelope), (bytes) => pool.sign(bytes, pkcs8, 'ed25519')));
  };
}
