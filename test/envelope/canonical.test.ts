import canonicalize from 'canonicalize';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalBytes, hashHex } from '../../src/envelope/index.ts';
import { writeParsedJcs } from '../../src/envelope/canonical.ts';
import { fixedHeader, fixedHeaderJson } from './fixtures.ts';

describe('canonical bytes', () => {
  it('are RFC 8785 of {Body, Header}, Selector only when non-empty', () => {
    const body = { b: [1, 2.5, 'é', null, true], a: { '😀': 1, '\uFB01': 2 } };
    expect(Buffer.from(canonicalBytes(fixedHeader, body)).toString()).toBe(`{"Body":{"a":{"😀":1,"ﬁ":2},"b":[1,2.5,"é",null,true]},"Header":${fixedHeaderJson}}`);
    const { Selector: _selector, ...noSelector } = fixedHeader;
    expect(Buffer.from(canonicalBytes(noSelector, 'text')).toString()).toBe(`{"Body":"text","Header":${fixedHeaderJson.replace(',"Selector":"pw1"', '')}}`);
    expect(canonicalize({ Body: body, Header: fixedHeader })).toBe(Buffer.from(canonicalBytes(fixedHeader, body)).toString());
  });

  it('the decoder writes parsed trees exactly as canonicalize does', () => {
    fc.assert(
      fc.property(fc.jsonValue({ stringUnit: 'binary' }), (value) => {
        const parsed: unknown = JSON.parse(JSON.stringify(value));
        expect(writeParsedJcs(parsed)).toBe(canonicalize(parsed));
      }),
      { numRuns: 500 },
    );
  });

  it('hashHex is lower-case hex SHA-256', () => {
    expect(hashHex(new TextEncoder().encode('abc'))).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });
});
