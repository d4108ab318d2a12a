import { sign } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { decodeEnvelope, hashHex, verifyEnvelopeText } from '../../src/envelope/index.ts';
import { compareCodePoints, pythonFloatRepr } from '../../src/envelope/python-canonical.ts';
import { ed25519Pair, fixedHeaderJson } from './fixtures.ts';

const { privateKey, publicKey } = ed25519Pair();
const headerWire =
  '{"Schema":"pollyweb.org/MSG:1.0","From":"sender.example.com","To":"receiver.example.org","Subject":"Hello@Host","Correlation":"3fa85f64-5717-4562-b3fc-2c963f66afa6","Timestamp":"2025-06-01T12:00:00.000Z","Selector":"pw1"}';

const bytes = (text: string) => Buffer.from(text, 'utf8');
const signOver = (text: string) => sign(null, bytes(text), privateKey.key).toString('base64');
const canonicalWith = (body: string) => `{"Body":${body},"Header":${fixedHeaderJson}}`;
const wire = (body: string, hashOver: string, signatureOver: string) =>
  `{"Header":${headerWire},"Body":${body},"Hash":"${hashHex(bytes(hashOver))}","Signature":"${signOver(signatureOver)}"}`;

/**
 * Each case: the Body as the sender wrote it, the bytes Python's
 * `json.dumps(obj, sort_keys=True, separators=(',', ':'), ensure_ascii=False)` gives for it
 * and the RFC 8785 bytes, both typed out by hand.
 */
const cases = [
  { name: 'floats with .0 and exponents', body: '{"a":1.0,"b":1e20,"c":1e-7}', python: '{"a":1.0,"b":1e+20,"c":1e-07}', jcs: '{"a":1,"b":100000000000000000000,"c":1e-7}' },
  { name: 'keys outside the BMP (code point order)', body: '{"\uFB01":1,"😀":2}', python: '{"\uFB01":1,"😀":2}', jcs: '{"😀":2,"\uFB01":1}' },
  { name: 'an integer beyond 2^53', body: '{"n":12345678901234567890}', python: '{"n":12345678901234567890}', jcs: '{"n":12345678901234567000}' },
  {
    name: 'repr thresholds and negative zero',
    body: '{"z":-0.0,"x":[0.0001,1e-05,1e16,1e15,1.5E+3,-2.50]}',
    python: '{"x":[0.0001,1e-05,1e+16,1000000000000000.0,1500.0,-2.5],"z":-0.0}',
    jcs: '{"x":[0.0001,0.00001,10000000000000000,1000000000000000,1500,-2.5],"z":0}',
  },
];

describe('the Python-compatible canonical form', () => {
  for (const { name, body, python, jcs } of cases) {
    const pythonBytes = canonicalWith(python);
    const jcsBytes = canonicalWith(jcs);

    it(`${name}: canonical is JCS, the alternate is the Python form`, () => {
      const decoded = decodeEnvelope(wire(body, jcsBytes, jcsBytes));
      expect(decoded.ok).toBe(true);
      if (!decoded.ok) return;
      expect(Buffer.from(decoded.value.canonical).toString()).toBe(jcsBytes);
      expect(decoded.value.alternates().map((b) => Buffer.from(b).toString())).toEqual([pythonBytes]);
    });

    it(`${name}: signed over the Python bytes verifies, over those bytes`, () => {
      const result = verifyEnvelopeText(wire(body, pythonBytes, pythonBytes), publicKey);
      expect(result.ok).toBe(true);
    });

    it(`${name}: signed over the JCS bytes verifies`, () => {
      expect(verifyEnvelopeText(wire(body, jcsBytes, jcsBytes), publicKey).ok).toBe(true);
    });

    it(`${name}: a Hash over one form and a Signature over the other fails`, () => {
      expect(verifyEnvelopeText(wire(body, pythonBytes, jcsBytes), publicKey)).toMatchObject({ ok: false, error: { reason: 'bad-signature' } });
      expect(verifyEnvelopeText(wire(body, jcsBytes, pythonBytes), publicKey)).toMatchObject({ ok: false, error: { reason: 'bad-signature' } });
    });
  }

  it('YAML input: floats keep their kind, so a Python-signed envelope verifies', () => {
    const pythonBytes = canonicalWith('{"a":1.0,"b":1e+20,"c":1e-07,"n":12345678901234567890}');
    const yaml = [
      'Header:',
      '  Schema: .MSG',
      '  From: sender.example.com',
      '  To: receiver.example.org',
      '  Subject: Hello@Host',
      '  Correlation: 3fa85f64-5717-4562-b3fc-2c963f66afa6',
      '  Timestamp: 2025-06-01T12:00:00.000Z',
      '  Selector: pw1',
      'Body:',
      '  a: 1.0',
      '  b: 1e20',
      '  c: 0.0000001',
      '  n: 12345678901234567890',
      `Hash: ${hashHex(bytes(pythonBytes))}`,
      `Signature: ${signOver(pythonBytes)}`,
    ].join('\n');
    const result = verifyEnvelopeText(yaml, publicKey);
    expect(result.ok ? 'ok' : result.error).toBe('ok');
  });

  it('is not computed when nothing can differ', () => {
    const decoded = decodeEnvelope(wire('{"text":"hi","n":[1,2,3],"s":"1.5e3"}', 'x', 'x'));
    expect(decoded.ok && decoded.value.alternates()).toEqual([]);
    const agreeing = decodeEnvelope(wire('{"half":0.5,"big":1e+21,"tiny":5e-324}', 'x', 'x'));
    expect(agreeing.ok && agreeing.value.alternates()).toEqual([]);
  });
});

describe('pythonFloatRepr', () => {
  // Python 3: repr(float(x)) for each x, typed out by hand.
  const table: [number, string][] = [
    [1, '1.0'],
    [100, '100.0'],
    [0.5, '0.5'],
    [0.1, '0.1'],
    [-2.5, '-2.5'],
    [0, '0.0'],
    [-0, '-0.0'],
    [1e20, '1e+20'],
    [1e16, '1e+16'],
    [1e15, '1000000000000000.0'],
    [1e22, '1e+22'],
    [Number('12345678901234567'), '1.2345678901234568e+16'],
    [0.0001, '0.0001'],
    [0.00012, '0.00012'],
    [1e-5, '1e-05'],
    [2.5e-5, '2.5e-05'],
    [1e-7, '1e-07'],
    [1.23e-18, '1.23e-18'],
    [1.5e-10, '1.5e-10'],
    [5e-324, '5e-324'],
    [1.7976931348623157e308, '1.7976931348623157e+308'],
    [-1.5e300, '-1.5e+300'],
    [123456.789, '123456.789'],
    [3.141592653589793, '3.141592653589793'],
    [Number('9007199254740993'), '9007199254740992.0'],
  ];
  for (const [value, repr] of table) it(`${repr}`, () => expect(pythonFloatRepr(value)).toBe(repr));
});

describe('compareCodePoints', () => {
  it('orders as Python sorts str: by code point, not UTF-16 unit', () => {
    expect(['\uFB01', '😀', 'a', 'Z', '\uE000', '𝄞'].sort(compareCodePoints)).toEqual(['Z', 'a', '\uE000', '\uFB01', '𝄞', '😀']);
    expect(['ab', 'a', ''].sort(compareCodePoints)).toEqual(['', 'a', 'ab']);
  });
});
