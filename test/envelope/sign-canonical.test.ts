/**
 * Signing in either canonical form, from a lossless Body (numbers as written) or a plain
 * one, and the per-peer policy that picks the form. The expected canonical texts are typed
 * out by hand (Python's `json.dumps(sort_keys=True, separators=(',', ':'), ensure_ascii=False)`
 * and RFC 8785).
 */
import { describe, expect, it } from 'vitest';
import { canonicalHeaderJson } from '../../src/envelope/canonical.ts';
import { createCanonicalPolicy, decodeEnvelope, encodeEnvelope, hashHex, parseLosslessBody, signEnvelope, verifyEnvelopeText, type LosslessBody } from '../../src/envelope/index.ts';
import { ed25519Pair } from './fixtures.ts';

const { privateKey, publicKey } = ed25519Pair();
const draft = { From: 'sender.example.com', To: 'receiver.example.org', Subject: 'Hello@Host', Selector: 'pw1', Correlation: '3fa85f64-5717-4562-b3fc-2c963f66afa6', Timestamp: '2025-06-01T12:00:00.000Z' };
const hashOver = (bodyJson: string, header: Parameters<typeof canonicalHeaderJson>[0]) => hashHex(Buffer.from(`{"Body":${bodyJson},"Header":${canonicalHeaderJson(header)}}`, 'utf8'));

function lossless(text: string): LosslessBody {
  const parsed = parseLosslessBody(text);
  if (!parsed.ok) throw new Error(parsed.error.detail);
  return parsed.value;
}

const cases = [
  { name: '1.0, -0.0 and an integer beyond 2^53', body: '{"a":1.0,"b":-0.0,"c":12345678901234567890}', python: '{"a":1.0,"b":-0.0,"c":12345678901234567890}', jcs: '{"a":1,"b":0,"c":12345678901234567000}' },
  { name: 'small floats', body: '{"x":1e-7,"y":0.00001}', python: '{"x":1e-07,"y":1e-05}', jcs: '{"x":1e-7,"y":0.00001}' },
  { name: 'keys outside the BMP', body: '{"\uFB01":1,"😀":2}', python: '{"\uFB01":1,"😀":2}', jcs: '{"😀":2,"\uFB01":1}' },
];

describe('signing a lossless Body', () => {
  for (const { name, body, python, jcs } of cases) {
    it(`${name}: the wire keeps the Body as written; JCS by default, Python on request; both verify`, () => {
      for (const [form, expected] of [['jcs', jcs], ['python', python]] as const) {
        const envelope = signEnvelope({ ...draft, Body: lossless(body) }, privateKey, { canonical: form });
        const text = encodeEnvelope(envelope);
        expect(text).toContain(`"Body":${body}`);
        expect(envelope.Hash).toBe(hashOver(expected, envelope.Header));
        const verified = verifyEnvelopeText(text, publicKey);
        expect(verified.ok, `${form}: ${JSON.stringify(verified)}`).toBe(true);
      }
    });
  }

  it('a string body, plain text, and refusals', () => {
    expect(lossless('"hi"').plain()).toBe('hi');
    expect(lossless('plain words').plain()).toBe('plain words');
    expect(parseLosslessBody('[1]')).toMatchObject({ ok: false, error: { code: 'wrong-type' } });
    expect(parseLosslessBody('{"a":1,"a":2}')).toMatchObject({ ok: false, error: { code: 'invalid-json' } });
    const envelope = signEnvelope({ ...draft, Body: lossless('"😀"') }, privateKey, { canonical: 'python' });
    expect(envelope.Hash).toBe(hashOver('"😀"', envelope.Header));
  });
});

describe('signing a plain Body in the Python form', () => {
  it('writes each number as the receiver parses JSON.stringify of it', () => {
    const envelope = signEnvelope({ ...draft, Body: { x: 1e-7, n: 3, big: 1e21, f: 2.5 } }, privateKey, { canonical: 'python' });
    expect(envelope.Hash).toBe(hashOver('{"big":1e+21,"f":2.5,"n":3,"x":1e-07}', envelope.Header));
    const decoded = decodeEnvelope(encodeEnvelope(envelope));
    expect(decoded.ok && decoded.value.alternates().length).toBe(1);
    expect(verifyEnvelopeText(encodeEnvelope(envelope), publicKey).ok).toBe(true);
  });
});

describe('createCanonicalPolicy', () => {
  it('uses the stated form, else JCS, and warns once per peer whose forms differ', () => {
    const warnings: string[] = [];
    const policy = createCanonicalPolicy({ 'ref.example': { canonical: 'python' } }, (domain) => warnings.push(domain));
    expect(policy.formFor('REF.example', { x: 1e-7 })).toBe('python');
    expect(policy.formFor('other.example', { n: 1, s: 'text', deep: [{ k: 2 }] })).toBe('jcs');
    expect(policy.formFor('other.example', { f: 2.5 })).toBe('jcs'); // a float, but written alike
    expect(policy.formFor('other.example', 'a string 😀')).toBe('jcs');
    expect(warnings).toEqual([]);
    expect(policy.formFor('other.example', { x: 1e-7 })).toBe('jcs');
    expect(policy.formFor('other.example', { '😀': 1, '\uFB01': 2 })).toBe('jcs');
    expect(policy.formFor('third.example', lossless('{"a":1.0}'))).toBe('jcs');
    expect(warnings).toEqual(['other.example', 'third.example']);
    expect(policy.formFor('ref.example', undefined)).toBe('python');
  });
});
