import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { KeyFormatError } from '../errors.ts';

/** A parsed, cached public key. Parse once per sender and selector: a PEM per call is 5-10x slower. */
export interface PublicKey {
  readonly algorithm: 'ed25519' | 'rsa';
  readonly key: KeyObject;
}

/** A parsed private key for signing. */
export interface PrivateKey {
  readonly algorithm: 'ed25519' | 'rsa';
  readonly key: KeyObject;
}

const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');
const STRICT_BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Decodes standard, padded base64; anything else (unpadded, URL-safe, stray characters) is `undefined`. */
export function decodeStrictBase64(text: string): Buffer | undefined {
  if (!STRICT_BASE64.test(text)) return undefined;
  const bytes = Buffer.from(text, 'base64');
  // Reject non-canonical encodings whose padding bits are not zero.
  return bytes.toString('base64') === text ? bytes : undefined;
}

function algorithmOf(key: KeyObject): 'ed25519' | 'rsa' {
  if (key.asymmetricKeyType === 'ed25519') return 'ed25519';
  if (key.asymmetricKeyType === 'rsa') return 'rsa';
  throw new KeyFormatError(`unsupported key type ${String(key.asymmetricKeyType)}: expected ed25519 or rsa`);
}

/** Parses a DKIM TXT value (`v=DKIM1; k=ed25519; p=...`) into its tags. Tag names are case-insensitive. */
export function parseDkimTags(txt: string): Map<string, string> {
  const tags = new Map<string, string>();
  for (const part of txt.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    const name = part.slice(0, eq).trim().toLowerCase();
    const value = part.slice(eq + 1).replace(/\s+/g, '');
    if (name) tags.set(name, value);
  }
  return tags;
}

function fromDer(der: Buffer, hint: 'ed25519' | 'rsa' | undefined): PublicKey {
  if (der.length === 32 && hint !== 'rsa') {
    return { algorithm: 'ed25519', key: createPublicKey({ key: Buffer.concat([ED25519_SPKI_PREFIX, der]), format: 'der', type: 'spki' }) };
  }
  let key: KeyObject;
  try {
    key = createPublicKey({ key: der, format: 'der', type: 'spki' });
  } catch (spkiError) {
    if (hint !== 'rsa') throw new KeyFormatError('key bytes are neither a raw 32-byte Ed25519 key nor SPKI DER', { cause: spkiError });
    try {
      key = createPublicKey({ key: der, format: 'der', type: 'pkcs1' });
    } catch (cause) {
      throw new KeyFormatError('RSA key bytes are neither SPKI nor PKCS#1 DER', { cause });
    }
  }
  const algorithm = algorithmOf(key);
  if (hint && hint !== algorithm) throw new KeyFormatError(`key is ${algorithm} but the record says k=${hint}`);
  return { algorithm, key };
}

/**
 * Parses a public key given as a PEM (SPKI), a DKIM TXT value (`v=DKIM1; k=ed25519; p=...`,
 * `p=` raw 32 bytes or SPKI DER), or bare base64 (raw 32-byte Ed25519 key or SPKI DER).
 * @throws KeyFormatError
 */
export function parsePublicKey(text: string): PublicKey {
  const trimmed = text.trim();
  if (trimmed.startsWith('-----BEGIN')) {
    // createPublicKey would quietly derive the public key from a private one: a secret
    // pasted where a public key belongs is a mistake worth stopping.
    if (/^-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(trimmed)) throw new KeyFormatError('this is a private key: give the public key');
    try {
      const key = createPublicKey(trimmed);
      return { algorithm: algorithmOf(key), key };
    } catch (cause) {
      if (cause instanceof KeyFormatError) throw cause;
      throw new KeyFormatError('not a readable PEM public key', { cause });
    }
  }
  if (trimmed.includes('=') && /(^|;)\s*p\s*=/i.test(trimmed)) {
    const tags = parseDkimTags(trimmed);
    const v = tags.get('v');
    if (v !== undefined && v !== 'DKIM1') throw new KeyFormatError(`unsupported DKIM version v=${v}`);
    const k = (tags.get('k') ?? 'ed25519').toLowerCase();
    if (k !== 'ed25519' && k !== 'rsa') throw new KeyFormatError(`unsupported key type k=${k}`);
    const p = tags.get('p') ?? '';
    if (p === '') throw new KeyFormatError('the DKIM record has an empty p= (the key was revoked)');
    const der = decodeStrictBase64(p);
    if (!der) throw new KeyFormatError('p= is not standard padded base64');
    return fromDer(der, k);
  }
  const der = decodeStrictBase64(trimmed);
  if (!der) throw new KeyFormatError('not a PEM, a DKIM TXT value or standard base64');
  return fromDer(der, undefined);
}

/**
 * Parses a private key (PKCS#8 PEM, as `mailroom keys generate` writes it).
 * @throws KeyFormatError
 */
export function parsePrivateKey(pem: string): PrivateKey {
  try {
    const key = createPrivateKey(pem);
    return { algorithm: algorithmOf(key), key };
  } catch (cause) {
    if (cause instanceof KeyFormatError) throw cause;
    throw new KeyFormatError('not a readable PEM private key', { cause });
  }
}

/** The raw 32-byte Ed25519 public key, base64: the `p=` of the DNS record. */
export function rawEd25519Base64(key: KeyObject): string {
  const der = key.export({ format: 'der', type: 'spki' });
  return der.subarray(der.length - 32).toString('base64');
}
