import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { encodeEnvelope, signEnvelope, verifyEnvelopeText } from '../../src/envelope/index.ts';
import { parsePrivateKey, parsePublicKey } from '../../src/keys/public-key.ts';
import { ed25519Pair } from './fixtures.ts';

function rsaPair() {
  const pair = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return {
    privateKey: parsePrivateKey(pair.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString()),
    publicKey: parsePublicKey(pair.publicKey.export({ format: 'pem', type: 'spki' }).toString()),
    dkim: `v=DKIM1; k=rsa; p=${pair.publicKey.export({ format: 'der', type: 'spki' }).toString('base64')}`,
  };
}

describe('RSA keys (PKCS#1 v1.5, SHA-256)', () => {
  const rsa = rsaPair();
  const text = encodeEnvelope(signEnvelope({ From: 'sender.example.com', To: 'receiver.example.org', Subject: 'Hello@Host', Selector: 'rsa1', Body: { n: 1.5 } }, rsa.privateKey));

  it('signs and verifies, with the key as PEM or as a DKIM record', () => {
    expect(rsa.privateKey.algorithm).toBe('rsa');
    expect(verifyEnvelopeText(text, rsa.publicKey).ok).toBe(true);
    expect(verifyEnvelopeText(text, parsePublicKey(rsa.dkim)).ok).toBe(true);
    const signature = JSON.parse(text).Signature as string;
    expect(Buffer.from(signature, 'base64')).toHaveLength(256);
  });

  it('refuses a tampered envelope, another RSA key and an Ed25519 key', () => {
    expect(verifyEnvelopeText(text.replace('Hello@Host', 'Hello@Other'), rsa.publicKey)).toMatchObject({ ok: false, error: { reason: 'hash-mismatch' } });
    expect(verifyEnvelopeText(text, rsaPair().publicKey)).toMatchObject({ ok: false, error: { reason: 'bad-signature' } });
    expect(verifyEnvelopeText(text, ed25519Pair().publicKey)).toMatchObject({ ok: false, error: { reason: 'bad-signature' } });
  });

  it('an Ed25519 signature under an RSA key is bad-signature, not a throw', () => {
    const ed = ed25519Pair();
    const edText = encodeEnvelope(signEnvelope({ To: 'receiver.example.org', Subject: 'Hello@Host' }, ed.privateKey));
    expect(verifyEnvelopeText(edText, rsa.publicKey)).toMatchObject({ ok: false, error: { reason: 'bad-signature' } });
  });
});
