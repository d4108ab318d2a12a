import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { KeyFormatError } from '../../src/errors.ts';
import { decodeStrictBase64, parsePublicKey } from '../../src/keys/index.ts';
import { KEY_A, spkiOf } from './vectors.ts';

describe('parsePublicKey', () => {
  const expected = spkiOf(parsePublicKey(KEY_A.pem));

  it('reads a DKIM value without v=, with odd spacing and upper-case tag names', () => {
    expect(spkiOf(parsePublicKey(`K=ed25519;  P = ${KEY_A.raw}`))).toEqual(expected);
    expect(spkiOf(parsePublicKey(`p=${KEY_A.raw.slice(0, 20)} ${KEY_A.raw.slice(20)}`))).toEqual(expected);
  });

  it('refuses a private key given as a public one', () => {
    const pem = generateKeyPairSync('ed25519').privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
    expect(() => parsePublicKey(pem)).toThrow(KeyFormatError);
    expect(() => parsePublicKey(pem)).toThrow(/private key/);
  });

  it('refuses revoked, wrong-version, wrong-type and mismatched records', () => {
    for (const txt of ['v=DKIM1; k=ed25519; p=', `v=DKIM2; p=${KEY_A.raw}`, `k=dsa; p=${KEY_A.raw}`, `k=rsa; p=${KEY_A.raw}`]) {
      expect(() => parsePublicKey(txt), txt).toThrow(KeyFormatError);
    }
  });

  it('decodes only canonical, padded base64', () => {
    expect(decodeStrictBase64(KEY_A.raw)).toHaveLength(32);
    expect(decodeStrictBase64(KEY_A.raw.replace(/=$/, ''))).toBeUndefined();
    expect(decodeStrictBase64('QR==')).toBeUndefined();
  });
});
