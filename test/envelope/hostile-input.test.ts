import { describe, expect, it } from 'vitest';
import { decodeEnvelope, defaultParseLimits, encodeEnvelope, signEnvelope, verifyEnvelopeText, type Rejection } from '../../src/envelope/index.ts';
import { ed25519Pair, keyAForms, readVector } from './fixtures.ts';

const { privateKey, publicKey } = ed25519Pair();
const good = encodeEnvelope(signEnvelope({ From: 'sender.example.com', To: 'receiver.example.org', Subject: 'Hello@Host', Body: { text: 'hi' } }, privateKey));

/**
 * Decodes and returns the rejection, failing the test if it was accepted. No clock here: how
 * long each refusal takes is measured by `bench/hostile-input.ts`, where a busy machine
 * moves a figure instead of failing a test.
 */
function rejection(input: string | Uint8Array, options?: Parameters<typeof decodeEnvelope>[1]): Rejection {
  const result = decodeEnvelope(input, options);
  if (result.ok) throw new Error('accepted hostile input');
  return result.error;
}

const malformed = (code: string) => ({ reason: 'malformed', field: '$', code });
/** A YAML document whose aliases, expanded, would pass the body limit (answered 413). */
const expansion = { reason: 'too-large', field: '$', code: 'yaml-expansion' };
/** `good` with its Body replaced by raw JSON text. */
const withBody = (body: string) => good.replace('"Body":{"text":"hi"}', `"Body":${body}`);

describe('hostile input is refused with a named reason', () => {
  it('a 10 MB input is too-large before it is decoded or scanned', () => {
    const huge = '['.repeat(10 * 1024 * 1024);
    expect(rejection(huge)).toMatchObject({ reason: 'too-large' });
    // Invalid UTF-8 and deep nesting would each be refused too: size is checked first.
    expect(rejection(new Uint8Array(10 * 1024 * 1024).fill(0xff))).toMatchObject({ reason: 'too-large' });
    expect(rejection(good, { limits: { maxBytes: good.length - 1 } })).toMatchObject({ reason: 'too-large' });
    // Multi-byte characters count as bytes, not UTF-16 units.
    const wide = withBody(`"${'é'.repeat(200)}"`);
    expect(rejection(wide, { limits: { maxBytes: wide.length + 100 } })).toMatchObject({ reason: 'too-large' });
  });

  it('100k nested brackets are too-deep (JSON and YAML)', () => {
    expect(rejection('{"a":'.repeat(50_000))).toMatchObject(malformed('too-deep'));
    expect(rejection('{'.repeat(100_000))).toMatchObject(malformed('too-deep'));
    expect(rejection(withBody('['.repeat(100_000) + ']'.repeat(100_000)))).toMatchObject(malformed('too-deep'));
    expect(rejection('['.repeat(100_000) + ']'.repeat(100_000))).toMatchObject(malformed('too-deep')); // auto: YAML
    expect(rejection('{a: '.repeat(50_000) + '1' + '}'.repeat(50_000), { format: 'yaml' })).toMatchObject(malformed('too-deep'));
    expect(rejection(`Body:\n  ${'- '.repeat(100_000)}x`, { format: 'yaml' })).toMatchObject(malformed('too-deep'));
    expect(rejection(`Body:\n  ${'? '.repeat(100_000)}x`, { format: 'yaml' })).toMatchObject(malformed('too-deep'));
    // Nesting under the quick scan's generous limit still meets the exact bound.
    expect(rejection(`a: "]]]]"\nb: ${'[ '.repeat(100)}`, { format: 'yaml' })).toMatchObject(malformed('too-deep'));
    const indented = Array.from({ length: 60 }, (_, i) => `${' '.repeat(i)}k:`).join('\n');
    expect(rejection(indented, { format: 'yaml' })).toMatchObject(malformed('too-deep'));
  });

  it('depth is counted from the envelope object (limit 32 by default)', () => {
    const nest = (levels: number) => withBody(`${'{"a":'.repeat(levels)}1${'}'.repeat(levels)}`);
    expect(decodeEnvelope(nest(31)).ok).toBe(true); // envelope 1 + 31 = 32
    expect(rejection(nest(32))).toMatchObject(malformed('too-deep'));
    expect(decodeEnvelope(nest(32), { limits: { maxDepth: 33 } }).ok).toBe(true);
  });

  it('YAML billion laughs expand past the body limit; recursive aliases hit the alias limit', () => {
    let laughs = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n';
    let previous = 'a';
    for (const name of 'bcdefghi') {
      laughs += `${name}: &${name} [${Array(9).fill(`*${previous}`).join(',')}]\n`;
      previous = name;
    }
    expect(rejection(laughs)).toMatchObject(expansion);
    // Small, many: the alias count still bounds the work.
    expect(rejection(`a: &a 1\nb: [${Array(60).fill('*a').join(', ')}]\n`)).toMatchObject(malformed('alias-limit'));
    expect(rejection('a: &a [*a, *a]\n')).toMatchObject(malformed('alias-limit'));
    expect(rejection('Body: &a {x: *a}\n')).toMatchObject(malformed('alias-limit'));
    expect(rejection('a: &a [1]\nb: *a\n', { limits: { maxYamlAliases: 0 } })).toMatchObject(malformed('alias-limit'));
  });

  it('YAML aliases are bounded by the size they expand to, not by their count', () => {
    // 49 references to a 100 KB anchor: 100 KB of text, 4.9 MB expanded; few aliases, each one big.
    const big = 'x'.repeat(100 * 1024);
    const scalarAnchor = `Header: {}\nBody:\n  big: &big "${big}"\n  refs: [${Array(49).fill('*big').join(', ')}]\n`;
    expect(Buffer.byteLength(scalarAnchor)).toBeLessThan(defaultParseLimits.maxBytes);
    expect(rejection(scalarAnchor)).toMatchObject(expansion);
    const mapAnchor = `Header: {}\nBody:\n  big: &big {${Array.from({ length: 1000 }, (_, i) => `k${i}: "${'y'.repeat(90)}"`).join(', ')}}\n${Array.from({ length: 49 }, (_, i) => `  r${i}: *big`).join('\n')}\n`;
    expect(rejection(mapAnchor)).toMatchObject(expansion);
    // The limit is the body limit: a larger one lets the same document through the size check.
    expect(rejection(scalarAnchor, { limits: { maxBytes: 10_000_000, maxYamlAliases: 100 } })).toMatchObject({ reason: 'malformed', field: 'Header.Schema' });
  });

  it('a signed YAML envelope with a few small aliases is accepted and verifies', () => {
    const body = { billing: { street: 'Main 1', city: 'Bern' }, shipping: { street: 'Main 1', city: 'Bern' }, tags: ['a', 'b'], again: ['a', 'b'] };
    const envelope = signEnvelope({ From: 'sender.example.com', To: 'receiver.example.org', Subject: 'Hello@Host', Body: body }, privateKey);
    const yaml = [
      'Header:',
      ...Object.entries(envelope.Header).map(([k, v]) => `  ${k}: ${JSON.stringify(v)}`),
      'Body:',
      '  billing: &address {street: Main 1, city: Bern}',
      '  shipping: *address',
      '  tags: &tags [a, b]',
      '  again: *tags',
      `Hash: ${JSON.stringify(envelope.Hash)}`,
      `Signature: ${JSON.stringify(envelope.Signature)}`,
    ].join('\n');
    const result = verifyEnvelopeText(Buffer.from(yaml), publicKey);
    expect(result.ok ? result.value.envelope.Body : result.error).toEqual(body);
  });

  it('duplicate keys, in JSON (even with equal values) and YAML', () => {
    expect(rejection(withBody('{"a":1,"a":1}'))).toMatchObject(malformed('duplicate-key'));
    expect(rejection(withBody('{"a":{"b":1,"b":2}}'))).toMatchObject(malformed('duplicate-key'));
    expect(rejection(good.replace('"Hash":', '"Hash":"x","Hash":'))).toMatchObject(malformed('duplicate-key'));
    expect(rejection(good.replace('"To":', '"To":"a.example.com","To":'))).toMatchObject(malformed('duplicate-key'));
    expect(rejection('Header: {}\nBody:\n  a: 1\n  a: 1\n')).toMatchObject(malformed('duplicate-key'));
    expect(rejection('Header: {}\nHeader: {}\n')).toMatchObject(malformed('duplicate-key'));
  });

  it('lone surrogates: escaped in strings or keys, raw in a string input, in YAML', () => {
    expect(rejection(withBody('{"a":"x\\ud800y"}'))).toMatchObject(malformed('lone-surrogate'));
    expect(rejection(withBody('{"\\uDC00":1}'))).toMatchObject(malformed('lone-surrogate'));
    expect(rejection(withBody('"\\ud83d"'))).toMatchObject(malformed('lone-surrogate'));
    expect(rejection(withBody('{"a":"\ud800"}'))).toMatchObject(malformed('lone-surrogate'));
    expect(rejection('Body: "\\ud800"\n')).toMatchObject(malformed('lone-surrogate'));
    // A correctly escaped pair is fine.
    expect(decodeEnvelope(withBody('{"\\ud83d\\ude00":"\\uD83D\\uDE00"}')).ok).toBe(true);
  });

  it('invalid UTF-8 bytes', () => {
    const bytes = Buffer.from(withBody('"xx"'));
    bytes[bytes.indexOf('xx')] = 0xc3; // a lead byte followed by ASCII
    expect(rejection(bytes)).toMatchObject(malformed('invalid-utf8'));
    expect(rejection(Buffer.concat([Buffer.from(good.slice(0, -1)), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from('}')]))).toMatchObject(malformed('invalid-utf8'));
  });

  it('NaN and Infinity', () => {
    expect(rejection(withBody('{"a":NaN}'))).toMatchObject(malformed('invalid-json'));
    expect(rejection(withBody('{"a":1e400}'))).toMatchObject(malformed('non-finite-number'));
    expect(rejection(withBody('{"a":-1E+999}'))).toMatchObject(malformed('non-finite-number'));
    expect(rejection(withBody(`{"a":[1${'0'.repeat(400)}]}`))).toMatchObject(malformed('non-finite-number'));
    expect(rejection(withBody(`{"a":-1${'0'.repeat(400)}.5}`))).toMatchObject(malformed('non-finite-number'));
    for (const value of ['.nan', '.inf', '-.Inf', '.NaN']) {
      expect(rejection(`Header: {}\nBody: {a: ${value}}\n`)).toMatchObject(malformed('non-finite-number'));
    }
  });

  it('documents that are not one object', () => {
    expect(rejection('[1,2]', { format: 'json' })).toMatchObject(malformed('not-an-object'));
    expect(rejection('null', { format: 'json' })).toMatchObject(malformed('not-an-object'));
    expect(rejection('"text"')).toMatchObject(malformed('not-an-object'));
    expect(rejection('')).toMatchObject(malformed('not-an-object'));
    expect(rejection('{"a":', { format: 'json' })).toMatchObject(malformed('invalid-json'));
    expect(rejection('{"a":1} x')).toMatchObject(malformed('invalid-json'));
    expect(rejection('a: [1, 2\n')).toMatchObject(malformed('invalid-yaml'));
    expect(rejection('a: 1\n---\nb: 2\n')).toMatchObject(malformed('invalid-yaml'));
    expect(rejection('? [a, b]\n: c\n')).toMatchObject(malformed('invalid-yaml'));
    expect(rejection('a: !!binary aGVsbG8=\n')).toMatchObject(malformed('invalid-yaml'));
    expect(rejection('a: !custom x\n')).toMatchObject(malformed('invalid-yaml'));
  });

  it('an array Body is malformed Body', () => {
    expect(rejection(withBody('[1,2,3]'))).toMatchObject({ reason: 'malformed', field: 'Body' });
  });

  it('a large flat YAML map stays linear (no quadratic duplicate search)', () => {
    const lines = Array.from({ length: 20_000 }, (_, i) => `  k${i}: v`);
    const yaml = `Header: {}\nBody:\n${lines.join('\n')}\n`;
    expect(rejection(yaml)).toMatchObject({ reason: 'malformed', field: 'Header.Schema' });
  });

  it('a valid envelope is accepted as YAML', () => {
    const v01 = JSON.parse(readVector('valid/v01-basic-domain.json').toString()) as Record<string, Record<string, string>>;
    const header = v01.Header!;
    const yaml = [
      '# the v01 vector, written as YAML by hand',
      'Header:',
      ...Object.entries(header).map(([k, v]) => `  ${k}: ${v}`),
      'Body:',
      '  text: hi',
      `Hash: ${String(v01.Hash)}`,
      `Signature: "${String(v01.Signature)}"`,
      'Extra: ignored',
    ].join('\n');
    const result = verifyEnvelopeText(Buffer.from(yaml), keyAForms().pem);
    expect(result.ok ? result.value.envelope.Header : result.error).toEqual(header);
    expect(verifyEnvelopeText(good, publicKey, { format: 'yaml' }).ok).toBe(true); // JSON is YAML too
  });
});
