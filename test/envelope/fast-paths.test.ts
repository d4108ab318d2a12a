/**
 * The per-envelope fast paths of the codec give exactly what the slower, general code gives:
 * the hand-written wire checks and zod's schema, the cached domain-name verdicts and the
 * patterns, the validated-header writer and `canonicalHeaderJson`, the signed Body's JCS
 * writer and `canonicalize`.
 */
import canonicalize from 'canonicalize';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalBytes } from '../../src/envelope/index.ts';
import { canonicalHeaderJson, validatedHeaderJson } from '../../src/envelope/canonical.ts';
import { isDomainName } from '../../src/envelope/envelope-fields.ts';
import { WireEnvelope, validateWireEnvelope, wireFieldsOf } from '../../src/envelope/envelope-schema.ts';
import { prepareEnvelope } from '../../src/envelope/sign-envelope.ts';
import { MSG_SCHEMA, type Envelope, type EnvelopeHeader } from '../../src/envelope/types.ts';

const LABEL = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;
const TOP_LABEL = /^(?:[A-Za-z]{2,63}|[Xx][Nn]--[A-Za-z0-9-]{1,59})$/;

/** The domain-name rule as the patterns state it, uncached. */
function referenceIsDomainName(text: string): boolean {
  if (text.length > 253) return false;
  const labels = text.split('.');
  return labels.length >= 2 && labels.every((label) => LABEL.test(label)) && TOP_LABEL.test(labels[labels.length - 1]!);
}

/** What `validateWireEnvelope` returned before its fast path: zod's data, normalised. */
function referenceValidate(doc: Record<string, unknown>): { envelope: Envelope; signedHeader: EnvelopeHeader } | 'refused' {
  const parsed = WireEnvelope.safeParse(doc);
  if (!parsed.success) return 'refused';
  const { Header: h, Body } = parsed.data;
  if ((parsed.data.Hash === undefined) !== (parsed.data.Signature === undefined)) return 'refused';
  const From = h.From === null || h.From === undefined || h.From === '' ? 'Anonymous' : h.From;
  const Header: EnvelopeHeader = h.Selector
    ? { Schema: MSG_SCHEMA, From, To: h.To, Subject: h.Subject, Correlation: h.Correlation, Timestamp: h.Timestamp, Selector: h.Selector }
    : { Schema: MSG_SCHEMA, From, To: h.To, Subject: h.Subject, Correlation: h.Correlation, Timestamp: h.Timestamp };
  const lower = (address: string) => (referenceIsDomainName(address) ? address.toLowerCase() : address);
  const from = lower(From);
  const To = lower(h.To);
  const envelope = { Header: from === From && To === h.To ? Header : { ...Header, From: from, To }, Body: Body ?? {}, Hash: parsed.data.Hash ?? '', Signature: parsed.data.Signature ?? '' };
  return { envelope, signedHeader: Header };
}

const UUID = '3fa85f64-5717-4562-b3fc-2c963f66afa6';
const odd = fc.oneof(fc.constant(undefined), fc.constant(null), fc.integer(), fc.boolean(), fc.constant({}), fc.constant([]), fc.string());
/** Mostly a value the schema accepts, sometimes one it may not: each field is the odd one out now and then. */
const mostly = <T>(good: fc.Arbitrary<T>, bad: fc.Arbitrary<unknown>) => fc.oneof({ arbitrary: good, weight: 12 }, { arbitrary: bad, weight: 1 });
const address = mostly(
  fc.constantFrom('orders.example', 'Orders.EXAMPLE', 'shop.xn--p1ai', UUID, UUID.toUpperCase()),
  fc.oneof(fc.constantFrom('Anonymous', 'anonymous', '', 'a.b', 'shop.c0m', 'example', '192.0.2.1', 'shop..example', 'x'.repeat(254)), odd),
);
const wireHeader = fc.record({
  Schema: fc.constantFrom(MSG_SCHEMA, '.MSG', '.MSG:1.0'),
  From: fc.oneof(address, fc.constantFrom(undefined, null, '', 'Anonymous')),
  To: address,
  Subject: mostly(fc.oneof(fc.constantFrom('Hello@Host', 'Quote"\\\n@Host'), fc.string({ unit: 'binary', minLength: 1 })), fc.oneof(fc.constant(''), odd)),
  Correlation: mostly(fc.constantFrom(UUID, UUID.toUpperCase()), fc.oneof(fc.constant('not-a-uuid'), odd)),
  Timestamp: mostly(fc.constantFrom('2025-06-01T12:00:00.000Z', '2025-06-01T12:00:00Z', '2024-02-29T00:00:00Z'), fc.oneof(fc.constantFrom('2025-02-29T00:00:00Z', '2025-06-01 12:00:00'), odd)),
  Selector: fc.oneof(fc.constantFrom(undefined, 'pw1', '', null, 'sel"ector'), odd),
  Extra: odd,
});
const wireDoc = fc.record({
  Header: wireHeader,
  Body: mostly(fc.constantFrom(undefined, null, 'text', {}, { a: 1 }, Object.create(null) as object), fc.oneof(fc.constantFrom(new Date(0), [1]), odd)),
  Hash: mostly(fc.constantFrom(undefined, '', 'ab'.repeat(32)), odd),
  Signature: mostly(fc.constantFrom(undefined, '', 'AAAA'), odd),
});

describe('wire envelope fast path', () => {
  it('accepts what the zod schema accepts and normalises it the same way; refuses the rest as before', () => {
    let accepted = 0;
    fc.assert(
      fc.property(wireDoc, (doc) => {
        // The hand-written checks alone, without the schema behind them: they must agree with it.
        expect(wireFieldsOf(doc, doc.Header) !== undefined).toBe(WireEnvelope.safeParse(doc).success);
        const result = validateWireEnvelope(doc);
        const reference = referenceValidate(doc);
        if (result.ok) accepted++;
        if (reference === 'refused') {
          expect(result.ok).toBe(false);
        } else {
          expect(result.ok).toBe(true);
          if (result.ok) expect(result.value).toStrictEqual(reference);
        }
      }),
      { numRuns: 3000 },
    );
    // Enough of both sides to mean something.
    expect(accepted).toBeGreaterThan(300);
    expect(accepted).toBeLessThan(2700);
  });
});

describe('domain-name verdicts', () => {
  it('the cached verdict is the pattern verdict, also after the cache filled and was cleared', () => {
    const names = fc.sample(fc.oneof(fc.domain(), fc.string(), fc.constantFrom('a.b', 'shop.c0m', 'SHOP.EXAMPLE', 'shop.xn--', 'shop.a-b')), 3000);
    for (let round = 0; round < 2; round++) {
      for (const name of names) expect(isDomainName(name), name).toBe(referenceIsDomainName(name));
    }
  });
});

describe('validated header JSON', () => {
  it('is canonicalHeaderJson for any header the schema accepts', () => {
    fc.assert(
      fc.property(wireDoc, (doc) => {
        const result = validateWireEnvelope(doc);
        if (!result.ok) return;
        for (const header of [result.value.signedHeader, result.value.envelope.Header]) {
          expect(validatedHeaderJson(header)).toBe(canonicalHeaderJson(header));
          expect(JSON.parse(validatedHeaderJson(header))).toStrictEqual(JSON.parse(canonicalize(header)!));
        }
      }),
      { numRuns: 3000 },
    );
  });
});

describe('signed Body', () => {
  it('its canonical bytes are what canonicalize writes for any sendable JSON Body', () => {
    const header = { From: 'orders.example', To: 'shop.example', Subject: 'Hello@Host', Correlation: UUID, Timestamp: '2025-06-01T12:00:00.000Z', Selector: 'pw1' };
    let signed = 0;
    fc.assert(
      fc.property(fc.oneof(fc.dictionary(fc.string({ unit: 'binary' }), fc.jsonValue({ maxDepth: 6 })), fc.string({ unit: 'binary' })), (body) => {
        // A lone surrogate is refused by the draft checks (as before); every other Body must match byte for byte.
        let prepared;
        try {
          prepared = prepareEnvelope({ ...header, Body: body as Envelope['Body'] });
        } catch {
          return;
        }
        signed++;
        expect(Buffer.from(prepared.bytes).toString()).toBe(Buffer.from(canonicalBytes(prepared.Header, prepared.Body)).toString());
      }),
      { numRuns: 1000 },
    );
    expect(signed).toBeGreaterThan(300);
  });
});
