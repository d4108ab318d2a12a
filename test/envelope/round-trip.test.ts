import fc from 'fast-check';
import { stringify as toYaml } from 'yaml';
import { describe, expect, it } from 'vitest';
import {
  canonicalBytes,
  decodeEnvelope,
  encodeEnvelope,
  hashHex,
  signEnvelope,
  verifyDecoded,
  type Envelope,
  type EnvelopeDraft,
  type JsonValue,
} from '../../src/envelope/index.ts';
import { ed25519Pair } from './fixtures.ts';

const { privateKey, publicKey } = ed25519Pair();

const label = fc.stringMatching(/^[a-z0-9](?:[a-z0-9-]{0,8}[a-z0-9])?$/);
const domain = fc.tuple(fc.array(label, { minLength: 1, maxLength: 3 }), fc.stringMatching(/^[a-z]{2,6}$/)).map(([labels, tld]) => [...labels, tld].join('.'));
const uuid = fc.uuid();
const text = fc.string({ unit: 'binary', maxLength: 12 }); // any code point, non-BMP included, no lone surrogates
const number = fc.oneof(
  fc.integer(),
  fc.maxSafeInteger(),
  fc.double({ noNaN: true, noDefaultInfinity: true }).map((n) => (Object.is(n, -0) ? 0 : n)),
  fc.constantFrom(1.5, 0.1, 1e20, 1e21, 1e-7, 5e-324, 1.7976931348623157e308),
);
const { json } = fc.letrec<{ json: JsonValue }>((tie) => ({
  json: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constant(null),
    fc.boolean(),
    number,
    text,
    fc.array(tie('json'), { maxLength: 4 }),
    fc.dictionary(text, tie('json'), { maxKeys: 4 }),
  ),
}));
const body = fc.oneof(fc.dictionary(text, json, { maxKeys: 6 }), text, fc.constant(undefined));

const draft: fc.Arbitrary<EnvelopeDraft> = fc.record(
  {
    From: fc.oneof(domain, uuid, fc.constant('Anonymous'), fc.constant('')),
    To: fc.oneof(domain, uuid),
    Subject: fc.string({ unit: 'binary', minLength: 1, maxLength: 20 }),
    Body: body,
    Selector: fc.oneof(fc.constant(undefined), fc.constant(''), fc.stringMatching(/^[a-z0-9]{1,8}$/)),
    Timestamp: fc.date({ min: new Date('1970-01-01T00:00:00Z'), max: new Date('2999-12-31T23:59:59Z'), noInvalidDate: true }).map((d) => d.toISOString()),
  },
  { requiredKeys: ['To', 'Subject'] },
);

function decodeOk(text: string, format?: 'json' | 'yaml') {
  const decoded = decodeEnvelope(text, format ? { format } : undefined);
  if (!decoded.ok) throw new Error(`did not decode: ${JSON.stringify(decoded.error)}`);
  return decoded.value;
}

/** Re-encodes an envelope with one signed field changed (Hash and Signature kept). */
function tampered(envelope: Envelope, change: (e: { Header: Record<string, unknown>; Body: unknown }) => void): Envelope {
  const copy = structuredClone(envelope) as Envelope & { Header: Record<string, unknown>; Body: unknown };
  change(copy);
  return copy;
}

const headerTampers: Record<string, (h: Record<string, unknown>) => void> = {
  From: (h) => (h.From = h.From === 'tampered.example.net' ? 'other.example.net' : 'tampered.example.net'),
  To: (h) => (h.To = h.To === 'tampered.example.net' ? 'other.example.net' : 'tampered.example.net'),
  Subject: (h) => (h.Subject = `${String(h.Subject)}x`),
  Correlation: (h) => (h.Correlation = h.Correlation === '00000000-0000-4000-8000-000000000000' ? '00000000-0000-4000-8000-000000000001' : '00000000-0000-4000-8000-000000000000'),
  Timestamp: (h) => (h.Timestamp = new Date(Date.parse(String(h.Timestamp)) + 1000).toISOString()),
  Selector: (h) => (h.Selector = h.Selector === 'tampered' ? 'other' : 'tampered'),
};

describe('sign → encode → decode → verify', () => {
  it('round-trips any envelope, as JSON and as YAML, to the same envelope', () => {
    fc.assert(
      fc.property(draft, (d) => {
        const envelope = signEnvelope(d, privateKey);
        const decoded = decodeOk(encodeEnvelope(envelope));
        expect(decoded.envelope).toEqual(envelope);
        expect(verifyDecoded(decoded, publicKey).ok).toBe(true);
        const fromYaml = decodeOk(toYaml(envelope), 'yaml');
        expect(fromYaml.envelope).toEqual(envelope);
        expect(verifyDecoded(fromYaml, publicKey)).toMatchObject({ ok: true });
      }),
      { numRuns: 300 },
    );
  });

  it('a tampered header field or body gives hash-mismatch; re-hashed, bad-signature', () => {
    fc.assert(
      fc.property(draft, fc.constantFrom(...Object.keys(headerTampers), 'Body'), (d, field) => {
        const envelope = signEnvelope(d, privateKey);
        const changed = tampered(envelope, (e) => {
          if (field !== 'Body') headerTampers[field]!(e.Header);
          else e.Body = typeof e.Body === 'string' ? `${e.Body}!` : { ...(e.Body as object), tampered: true };
        });
        const decoded = decodeOk(encodeEnvelope(changed));
        expect(verifyDecoded(decoded, publicKey)).toMatchObject({ ok: false, error: { reason: 'hash-mismatch' } });
        const rehashed = { ...changed, Hash: hashHex(canonicalBytes(decoded.envelope.Header, decoded.envelope.Body)) };
        expect(verifyDecoded(decodeOk(encodeEnvelope(rehashed)), publicKey)).toMatchObject({ ok: false, error: { reason: 'bad-signature' } });
      }),
      { numRuns: 200 },
    );
  });

  it('unknown header and top-level fields and the .MSG shorthand do not affect validity', () => {
    fc.assert(
      fc.property(draft, text, json, (d, name, value) => {
        const envelope = signEnvelope(d, privateKey);
        const wire = JSON.parse(encodeEnvelope(envelope)) as { Header: Record<string, unknown> } & Record<string, unknown>;
        const known = ['Schema', 'From', 'To', 'Subject', 'Correlation', 'Timestamp', 'Selector'];
        if (!known.includes(name)) wire.Header[name] = value;
        wire.Header.Schema = '.MSG';
        wire.Header.Extra = { nested: [1, 2.5, 'x'] };
        if (!['Header', 'Body', 'Hash', 'Signature'].includes(name)) wire[name] = value;
        const decoded = decodeOk(JSON.stringify(wire));
        expect(decoded.envelope).toEqual(envelope);
        expect(verifyDecoded(decoded, publicKey).ok).toBe(true);
      }),
      { numRuns: 200 },
    );
  });

  it('a signature of the wrong length is bad-signature, not a throw', () => {
    const envelope = signEnvelope({ To: 'receiver.example.org', Subject: 'Hello@Host' }, privateKey);
    for (const signature of ['', 'AAAA', Buffer.alloc(63).toString('base64'), Buffer.alloc(65).toString('base64')]) {
      const decoded = decodeOk(encodeEnvelope({ ...envelope, Signature: signature }));
      expect(verifyDecoded(decoded, publicKey)).toMatchObject({ ok: false, error: { reason: 'bad-signature' } });
    }
  });
});
