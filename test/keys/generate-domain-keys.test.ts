import { sign, verify } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/errors.ts';
import { createDnsKeyResolver, generateDomainKeys, parsePrivateKey, parsePublicKey } from '../../src/keys/index.ts';
import { startDnsServer, type TestDnsServer } from '../support/dns-server.ts';

const spki = (pem: string): Buffer => parsePublicKey(pem).key.export({ format: 'der', type: 'spki' });

describe('generateDomainKeys', () => {
  const keys = generateDomainKeys('Sender.Example.com', 'pw1');
  const message = Buffer.from('{"Body":{},"Header":{}}');

  it('names the record and formats the TXT value', () => {
    expect(keys.dnsName).toBe('pw1._domainkey.pw.sender.example.com');
    expect(keys.dnsTxt).toBe(`v=DKIM1; k=ed25519; p=${keys.publicKeyRaw}`);
    expect(Buffer.from(keys.publicKeyRaw, 'base64')).toHaveLength(32);
    expect(keys.privateKeyPem).toMatch(/^-----BEGIN PRIVATE KEY-----/);
  });

  it('signs with the private key; the TXT value, the raw key and the PEM all verify it', () => {
    const signature = sign(null, message, parsePrivateKey(keys.privateKeyPem).key);
    for (const form of [keys.dnsTxt, keys.publicKeyRaw, keys.publicKeyPem]) {
      const publicKey = parsePublicKey(form);
      expect(publicKey.algorithm).toBe('ed25519');
      expect(verify(null, message, publicKey.key, signature), form).toBe(true);
      expect(verify(null, Buffer.from('tampered'), publicKey.key, signature)).toBe(false);
    }
    expect(spki(keys.dnsTxt)).toEqual(spki(keys.publicKeyPem));
  });

  it('makes a new key each time', () => {
    expect(generateDomainKeys('sender.example.com', 'pw1').publicKeyRaw).not.toBe(keys.publicKeyRaw);
  });

  it('refuses a selector or domain that cannot form a DNS name', () => {
    expect(() => generateDomainKeys('sender.example.com', '')).toThrow(ConfigError);
    expect(() => generateDomainKeys('sender.example.com', 'pw 1')).toThrow(ConfigError);
    expect(() => generateDomainKeys('bad..example', 'pw1')).toThrow(ConfigError);
  });

  describe('published in DNS', () => {
    let server: TestDnsServer;
    beforeAll(async () => {
      server = await startDnsServer({ [keys.dnsName]: [{ type: 'TXT', data: keys.dnsTxt }] });
    });
    afterAll(async () => {
      await server.stop();
    });

    it('is found by the DNS resolver and verifies a signature', async () => {
      const found = await createDnsKeyResolver({ servers: [server.address], requireDnssec: false }).resolve('sender.example.com', 'pw1');
      const signature = sign(null, message, parsePrivateKey(keys.privateKeyPem).key);
      expect(found && verify(null, message, found.key, signature)).toBe(true);
    });
  });
});
