import { describe, expect, it } from 'vitest';
import {
  decodeEnvelope,
  EnvelopeDraftError,
  encodeEnvelope,
  signEnvelope,
  verifyDecoded,
  verifyEnvelopeText,
  type DecodedEnvelope,
  type Envelope,
} from '../../src/envelope/index.ts';
import { ed25519Pair, fixedHeader } from './fixtures.ts';

const { privateKey, publicKey } = ed25519Pair();
const signed = signEnvelope({ ...fixedHeader, Body: { text: 'hi' } }, privateKey);

/** The signed envelope's wire object with the header changed (Hash and Signature kept). */
function wireWith(header: Record<string, unknown>, rest: Record<string, unknown> = {}): string {
  return JSON.stringify({ ...signed, Header: { ...signed.Header, ...header }, ...rest });
}

function decodeError(text: string) {
  const result = decodeEnvelope(text);
  return result.ok ? 'accepted' : result.error;
}

describe('Header.Schema', () => {
  it('accepts the full name and the .MSG shorthand, normalised', () => {
    for (const Schema of ['pollyweb.org/MSG:1.0', '.MSG', '.MSG:1.0']) {
      const result = verifyEnvelopeText(wireWith({ Schema }), publicKey);
      expect(result.ok && result.value.envelope.Header.Schema).toBe('pollyweb.org/MSG:1.0');
    }
  });

  it('a well-formed other version is unsupported; anything else is malformed', () => {
    for (const Schema of ['pollyweb.org/MSG:2.0', 'pollyweb.org/MSG:1.1', '.MSG:3.0']) {
      expect(decodeError(wireWith({ Schema }))).toMatchObject({ reason: 'unsupported-schema', field: 'Header.Schema' });
    }
    for (const Schema of ['pollyweb.org/MANIFEST:1.0', 'MSG', '', 1, null, undefined]) {
      expect(decodeError(wireWith({ Schema }))).toMatchObject({ reason: 'malformed', field: 'Header.Schema' });
    }
  });

  it('is judged before every other field', () => {
    expect(decodeError(wireWith({ Schema: 'pollyweb.org/MSG:2.0', To: '' }, { Signature: 'x' }))).toMatchObject({ reason: 'unsupported-schema' });
  });
});

describe('header fields', () => {
  const bad: [string, unknown][] = [
    ['From', 'not a domain'],
    ['From', 'localhost'],
    ['From', '10.0.0.1'],
    ['From', 42],
    ['To', 'Anonymous'],
    ['To', ''],
    ['To', undefined],
    ['To', '-bad.example.com'],
    ['Subject', ''],
    ['Subject', undefined],
    ['Correlation', 'not-a-uuid'],
    ['Correlation', '3fa85f64571745622b3fc2c963f66afa6'],
    ['Timestamp', '2025-06-01T12:00:00.000+00:00'],
    ['Timestamp', '2025-06-01T12:00:00.12Z'],
    ['Timestamp', '2025-06-01T12:00:00.123456Z'],
    ['Timestamp', '2025-06-01T12:00:00.000z'],
    ['Timestamp', '2025-06-01 12:00:00Z'],
    ['Timestamp', '2025-02-29T12:00:00Z'],
    ['Timestamp', '2025-06-31T12:00:00Z'],
    ['Timestamp', '2025-06-01T24:00:00Z'],
    ['Timestamp', '2025-06-01T12:00:60Z'],
    ['Selector', 7],
  ];
  for (const [field, value] of bad) {
    it(`${field} = ${JSON.stringify(value)} is malformed Header.${field}`, () => {
      expect(decodeError(wireWith({ [field]: value }))).toMatchObject({ reason: 'malformed', field: `Header.${field}` });
    });
  }

  it('accepts UUID addresses, any-case UUIDs, leap days, seconds without millis', () => {
    for (const header of [
      { To: '3fa85f64-5717-4562-b3fc-2c963f66afa6' },
      { From: '3FA85F64-5717-4562-B3FC-2C963F66AFA6' },
      { Correlation: '3FA85F64-5717-4562-B3FC-2C963F66AFA6' },
      { Timestamp: '2024-02-29T23:59:59Z' },
      { From: 'xn--bcher-kva.example' },
    ]) {
      expect(decodeError(wireWith(header)), JSON.stringify(header)).toBe('accepted');
    }
  });

  it('missing, empty or null From is Anonymous, and is signed as such', () => {
    const anonymous = signEnvelope({ To: 'receiver.example.org', Subject: 'Hello@Host' }, privateKey);
    expect(anonymous.Header.From).toBe('Anonymous');
    for (const From of [undefined, '', null, 'Anonymous']) {
      const wire = JSON.stringify({ ...anonymous, Header: { ...anonymous.Header, From } });
      const result = verifyEnvelopeText(wire, publicKey);
      expect(result.ok && result.value.envelope.Header.From).toBe('Anonymous');
    }
  });

  it('an empty or null Selector is dropped', () => {
    const bare = signEnvelope({ ...fixedHeader, Selector: '' }, privateKey);
    expect(bare.Header).not.toHaveProperty('Selector');
    for (const Selector of ['', null]) {
      const result = verifyEnvelopeText(JSON.stringify({ ...bare, Header: { ...bare.Header, Selector } }), publicKey);
      expect(result.ok && result.value.envelope.Header).not.toHaveProperty('Selector');
    }
  });

  it('reports the first bad field in reading order', () => {
    expect(decodeError(wireWith({ Subject: '', Timestamp: 'x' }, { Hash: 1 }))).toMatchObject({ field: 'Header.Subject' });
    expect(decodeError(wireWith({}, { Hash: 1, Signature: 2 }))).toMatchObject({ field: 'Hash', code: 'wrong-type' });
    expect(decodeError(JSON.stringify({ Body: {}, Hash: '', Signature: '' }))).toMatchObject({ field: 'Header', code: 'missing' });
    expect(decodeError(JSON.stringify({ Header: 'x', Body: {} }))).toMatchObject({ field: 'Header', code: 'wrong-type' });
  });
});

describe('Body, Hash, Signature', () => {
  it('Body missing or null is {}; a string is kept; other types are malformed', () => {
    const empty = signEnvelope({ ...fixedHeader }, privateKey);
    for (const Body of [undefined, null, {}]) {
      const result = verifyEnvelopeText(JSON.stringify({ ...empty, Body }), publicKey);
      expect(result.ok && result.value.envelope.Body).toEqual({});
    }
    for (const Body of [[], [1], 1, true]) expect(decodeError(JSON.stringify({ ...empty, Body }))).toMatchObject({ reason: 'malformed', field: 'Body', code: 'wrong-type' });
  });

  it('Signature must be strict padded standard base64', () => {
    const sig = signed.Signature;
    for (const Signature of [sig.replace(/=+$/, ''), sig.replace(/\+/g, '-').replace(/\//g, '_'), ` ${sig}`, `${sig}\n`, 'AB==', 'A===']) {
      if (Signature === sig) continue;
      expect(decodeError(JSON.stringify({ ...signed, Signature }))).toMatchObject({ reason: 'malformed', field: 'Signature', code: 'not-base64' });
    }
  });

  it('verifyDecoded refuses a hand-built decoded envelope whose signature is not base64', () => {
    const decoded = decodeEnvelope(encodeEnvelope(signed));
    if (!decoded.ok) throw new Error(decoded.error.detail);
    const forged: DecodedEnvelope = { ...decoded.value, envelope: { ...decoded.value.envelope, Signature: 'not base64!' }, alternates: () => [] };
    expect(verifyDecoded(forged, publicKey)).toMatchObject({ ok: false, error: { reason: 'malformed', field: 'Signature', code: 'not-base64' } });
    const honest: DecodedEnvelope = { envelope: decoded.value.envelope, canonical: decoded.value.canonical, alternates: () => [] };
    expect(verifyDecoded(honest, publicKey).ok).toBe(true);
  });

  it('Hash is compared exactly', () => {
    expect(verifyEnvelopeText(JSON.stringify({ ...signed, Hash: signed.Hash.toUpperCase() }), publicKey)).toMatchObject({ ok: false, error: { reason: 'hash-mismatch' } });
    expect(verifyEnvelopeText(JSON.stringify({ ...signed, Hash: ` ${signed.Hash}` }), publicKey)).toMatchObject({ ok: false, error: { reason: 'hash-mismatch' } });
  });
});

describe('signEnvelope', () => {
  it('fills Correlation and Timestamp (milliseconds, Z) from the clock', () => {
    const envelope = signEnvelope({ To: 'receiver.example.org', Subject: 'Hello@Host' }, privateKey, { now: () => new Date(Date.UTC(2025, 0, 2, 3, 4, 5, 678)) });
    expect(envelope.Header.Timestamp).toBe('2025-01-02T03:04:05.678Z');
    expect(envelope.Header.Correlation).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(envelope.Header.Schema).toBe('pollyweb.org/MSG:1.0');
    expect(envelope.Body).toEqual({});
    expect(envelope.Hash).toMatch(/^[0-9a-f]{64}$/);
  });

  it('throws EnvelopeDraftError naming the field for a draft that would not validate', () => {
    const attempt = (draft: Parameters<typeof signEnvelope>[0]) => {
      try {
        signEnvelope(draft, privateKey);
      } catch (error) {
        if (error instanceof EnvelopeDraftError) return { tag: error._tag, field: error.field, code: error.code };
        throw error;
      }
      return 'signed';
    };
    const base = { To: 'receiver.example.org', Subject: 'Hello@Host' };
    expect(attempt({ ...base, To: 'nobody' })).toMatchObject({ tag: 'EnvelopeDraftError', field: 'Header.To' });
    expect(attempt({ ...base, Subject: '' })).toMatchObject({ field: 'Header.Subject' });
    expect(attempt({ ...base, Subject: 'a\ud800' })).toMatchObject({ field: 'Header.Subject', code: 'lone-surrogate' });
    expect(attempt({ ...base, Timestamp: '2025-06-01T12:00:00+01:00' })).toMatchObject({ field: 'Header.Timestamp' });
    expect(attempt({ ...base, Correlation: 'nope' })).toMatchObject({ field: 'Header.Correlation' });
    expect(attempt({ ...base, Body: { n: Number.NaN } })).toMatchObject({ field: 'Body', code: 'non-finite-number' });
    expect(attempt({ ...base, Body: { s: 'x\udc00' } })).toMatchObject({ field: 'Body', code: 'lone-surrogate' });
    expect(attempt({ ...base, Body: [1] as unknown as Envelope['Body'] })).toMatchObject({ field: 'Body' });
    expect(attempt({ ...base, Body: { d: new Date() as unknown as string } })).toMatchObject({ field: 'Body', code: 'not-json' });
    let deep: Envelope['Body'] = { leaf: 1 };
    for (let i = 0; i < 31; i++) deep = { a: deep };
    expect(attempt({ ...base, Body: deep })).toMatchObject({ field: 'Body', code: 'too-deep' });
    expect(attempt({ ...base, Body: { text: 'ok' } })).toBe('signed');
  });

  it('the encoded form is compact JSON', () => {
    const text = encodeEnvelope(signed);
    expect(text).not.toMatch(/\n|": /);
    expect(JSON.parse(text)).toEqual(signed);
  });
});
