/**
 * Domain names as the reference implementation accepts them (a top-level label of 2-63
 * letters, or `xn--`), compared case-insensitively: lower-cased where an envelope is
 * validated, while the signature still covers the header as the sender wrote it.
 */
import { sign } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/index.ts';
import { ConfigError } from '../../src/errors.ts';
import { decodeEnvelope, encodeEnvelope, hashHex, isAddress, isDomainName, signEnvelope, verifyEnvelopeText } from '../../src/envelope/index.ts';
import { encodeKeyToken, encodeToken } from '../../src/transport/names.ts';
import { ed25519Pair } from './fixtures.ts';

const { privateKey, publicKey } = ed25519Pair();

describe('isDomainName', () => {
  it('accepts a top-level label of 2-63 letters or xn--, in either case', () => {
    for (const name of ['shop.example', 'a.bc', 'sender.example.com', 'xn--bcher-kva.example', 'shop.xn--p1ai', 'SHOP.EXAMPLE', `shop.${'a'.repeat(63)}`, 'shop.XN--P1AI']) {
      expect(isDomainName(name), name).toBe(true);
    }
  });

  it('refuses the names the reference refuses', () => {
    for (const name of ['a.b', 'shop.c0m', 'shop.x1', 'shop.1', '192.0.2.1', 'shop.xn--', 'shop.a-b', 'shop.example.', 'example', `shop.${'a'.repeat(64)}`]) {
      expect(isDomainName(name), name).toBe(false);
    }
    expect(isAddress('shop.c0m')).toBe(false);
  });

  it('the config refuses them too', () => {
    for (const name of ['a.b', 'shop.c0m', 'shop.x1']) {
      expect(() => parseConfig({ directory: { [name]: 'https://x.example/inbox' } }), name).toThrow(ConfigError);
    }
    expect(parseConfig({ directory: { 'shop.xn--p1ai': 'https://x.example/inbox' } }).directory).toHaveProperty(['shop.xn--p1ai']);
  });
});

describe('domains compare case-insensitively', () => {
  const header = { Schema: 'pollyweb.org/MSG:1.0', From: 'Sender.Example.COM', To: 'SHOP.EXAMPLE', Subject: 'Hello@Host', Correlation: '3fa85f64-5717-4562-b3fc-2c963f66afa6', Timestamp: '2025-06-01T12:00:00.000Z', Selector: 'pw1' };

  it('a decoded envelope has its domains lower-cased; the signature over the header as written still verifies', () => {
    const canonical = `{"Body":{},"Header":{"Correlation":"${header.Correlation}","From":"Sender.Example.COM","Schema":"pollyweb.org/MSG:1.0","Selector":"pw1","Subject":"Hello@Host","Timestamp":"${header.Timestamp}","To":"SHOP.EXAMPLE"}}`;
    const wire = JSON.stringify({ Header: header, Body: {}, Hash: hashHex(Buffer.from(canonical)), Signature: sign(null, Buffer.from(canonical), privateKey.key).toString('base64') });
    const decoded = decodeEnvelope(wire);
    expect(decoded.ok && decoded.value.envelope.Header).toMatchObject({ From: 'sender.example.com', To: 'shop.example' });
    expect(verifyEnvelopeText(wire, publicKey).ok).toBe(true);
    // A tampered case is a different header: the hash no longer matches.
    expect(verifyEnvelopeText(wire.replace('"To":"SHOP.EXAMPLE"', '"To":"shop.example"'), publicKey)).toMatchObject({ ok: false, error: { reason: 'hash-mismatch' } });
  });

  it('signing lower-cases the domains of a draft (what is sent is what is signed); UUIDs and Anonymous stay as they are', () => {
    const envelope = signEnvelope({ From: 'Orders.Example', To: 'SHOP.EXAMPLE', Subject: 'Hello@Host' }, privateKey);
    expect(envelope.Header).toMatchObject({ From: 'orders.example', To: 'shop.example' });
    expect(verifyEnvelopeText(encodeEnvelope(envelope), publicKey).ok).toBe(true);
    const wallet = signEnvelope({ To: '3FA85F64-5717-4562-B3FC-2C963F66AFA6', Subject: 'Hello@Host' }, privateKey);
    expect(wallet.Header).toMatchObject({ From: 'Anonymous', To: '3FA85F64-5717-4562-B3FC-2C963F66AFA6' });
  });

  it('subject and KV tokens of a lower-case domain are unchanged', () => {
    expect(encodeToken('shop.example')).toBe(encodeToken('SHOP.EXAMPLE'.toLowerCase()));
    expect(encodeToken('shop.example')).toMatchInlineSnapshot(`"shop%2Eexample"`);
    expect(encodeKeyToken('shop.example')).toMatchInlineSnapshot(`"shop=2Eexample"`);
  });
});
