import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { decodeEnvelope, hashHex, verifyDecoded, verifyEnvelopeText, type Rejection } from '../../src/envelope/index.ts';
import { keyAForms, readVector, vectorFiles, vectorsDir } from './fixtures.ts';

/** The verdicts of the vectors' README, with the field a `malformed` verdict names. */
const expected: Record<string, Pick<Rejection, 'reason' | 'field' | 'code'> | 'accept'> = {
  'valid/v01-basic-domain': 'accept',
  'valid/v02-empty-body': 'accept',
  'valid/v04-nested': 'accept',
  'valid/v05-numbers-agreeing': 'accept',
  'valid/v08-anonymous': 'accept',
  'valid/v09-uuid-wallet': 'accept',
  'valid/v10-string-body': 'accept',
  'valid/v12-timestamp-no-millis': 'accept',
  'invalid/i01-tampered-body': { reason: 'hash-mismatch' },
  'invalid/i02-tampered-body-rehashed': { reason: 'bad-signature' },
  'invalid/i03-tampered-header-subject': { reason: 'hash-mismatch' },
  'invalid/i05-wrong-key': { reason: 'bad-signature' },
  'invalid/i06-missing-signature': { reason: 'malformed', field: 'Signature', code: 'missing' },
  'invalid/i07-missing-hash': { reason: 'malformed', field: 'Hash', code: 'missing' },
  'invalid/i08-unsupported-schema': { reason: 'unsupported-schema' },
  'invalid/i10-signature-unpadded': { reason: 'malformed', field: 'Signature', code: 'not-base64' },
  'invalid/i13-hash-uppercase': { reason: 'hash-mismatch' },
  'invalid/i14-timestamp-offset': { reason: 'malformed', field: 'Header.Timestamp' },
  'invalid/i15-body-array': { reason: 'malformed', field: 'Body' },
};

const keys = keyAForms();
const all = [...vectorFiles('valid').map((n) => `valid/${n}`), ...vectorFiles('invalid').map((n) => `invalid/${n}`)];

describe('PollyWeb interop vectors', () => {
  it('lists every vector file, and agrees with the README table', () => {
    expect(all.sort()).toEqual(Object.keys(expected).sort());
    const readme = readFileSync(new URL('README.md', vectorsDir), 'utf8');
    for (const [name, verdict] of Object.entries(expected)) {
      const row = readme.split('\n').find((line) => line.startsWith(`| ${name} |`));
      expect(row, name).toBeDefined();
      expect(row, name).toContain(verdict === 'accept' ? 'accept' : verdict.reason);
    }
  });

  for (const name of all) {
    const verdict = expected[name]!;
    for (const [form, key] of Object.entries(keys)) {
      it(`${name} (key A as ${form}) → ${verdict === 'accept' ? 'accept' : verdict.reason}`, () => {
        const bytes = readVector(`${name}.json`);
        for (const input of [bytes, bytes.toString('utf8')]) {
          const result = verifyEnvelopeText(input, key);
          if (verdict === 'accept') {
            expect(result.ok ? 'accept' : result.error).toBe('accept');
          } else {
            expect(result.ok).toBe(false);
            if (!result.ok) expect(result.error).toMatchObject(verdict);
          }
        }
      });
    }
  }

  for (const name of vectorFiles('valid')) {
    it(`valid/${name}: canonical bytes equal the reference's exactly`, () => {
      const reference = readVector(`valid/${name}.canonical`);
      const decoded = decodeEnvelope(readVector(`valid/${name}.json`));
      expect(decoded.ok).toBe(true);
      if (!decoded.ok) return;
      expect(Buffer.from(decoded.value.canonical).equals(reference)).toBe(true);
      expect(hashHex(reference)).toBe(decoded.value.envelope.Hash);
      expect(decoded.value.alternates()).toEqual([]);
      const verified = verifyDecoded(decoded.value, keys.pem);
      expect(verified.ok && Buffer.from(verified.value.canonical).equals(reference)).toBe(true);
    });
  }

  it('v08: From Anonymous and no Selector; v10: string Body; v02: empty Body', () => {
    const decode = (name: string) => {
      const result = decodeEnvelope(readVector(`valid/${name}.json`));
      if (!result.ok) throw new Error(result.error.detail);
      return result.value.envelope;
    };
    expect(decode('v08-anonymous').Header).toMatchObject({ From: 'Anonymous' });
    expect(decode('v08-anonymous').Header).not.toHaveProperty('Selector');
    expect(decode('v10-string-body').Body).toBe('plain string body ✓ with "quotes"');
    expect(decode('v02-empty-body').Body).toEqual({});
  });
});
