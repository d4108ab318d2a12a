import { generateKeyPairSync } from 'node:crypto';
import { createSocket } from 'node:dgram';
import fc from 'fast-check';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError, KeyFormatError, KeyLookupError } from '../../src/errors.ts';
import { createDnsKeyResolver, dkimRecordName, DnsQueryError, parsePublicKey, type DnsKeyRejection, type DnsKeyResolverOptions } from '../../src/keys/index.ts';
import { startDnsServer, type TestDnsServer } from '../support/dns-server.ts';
import { KEY_A, spkiOf } from './vectors.ts';

const expectedA = spkiOf(parsePublicKey(KEY_A.pem));
const name = (domain: string, selector = 'pw1'): string => dkimRecordName(domain, selector);

/** Splits `text` into pieces at the given (sorted, distinct) cut points. */
const splitAt = (text: string, cuts: readonly number[]): string[] =>
  [0, ...cuts, text.length].slice(1).map((end, i, ends) => text.slice(i === 0 ? 0 : (ends[i - 1] ?? 0), end));

let server: TestDnsServer;
/** DNSSEC off unless a test turns it on: most tests here are about the TXT look-up itself (the test server signs nothing). */
const resolver = (options: DnsKeyResolverOptions = {}) => createDnsKeyResolver({ servers: [server.address], timeoutMs: 500, requireDnssec: false, ...options });

beforeAll(async () => {
  server = await startDnsServer();
});
afterAll(async () => {
  await server.stop();
});
beforeEach(() => server.reset());

describe('createDnsKeyResolver', () => {
  it('joins the character-strings of the record and finds key A', async () => {
    server.set(name('split.example'), [{ type: 'TXT', data: splitAt(KEY_A.dkim, [10, 25, 40]) }]);
    const key = await resolver().resolve('split.example', 'pw1');
    expect(key?.algorithm).toBe('ed25519');
    expect(spkiOf(key)).toEqual(expectedA);
    expect(server.queries).toEqual([{ transport: 'udp', name: 'pw1._domainkey.pw.split.example', type: 'TXT', rd: true, ad: false, dnssecOk: false }]);
  });

  it('finds key A however the record is split into strings', async () => {
    const keys = resolver();
    await fc.assert(
      fc.asyncProperty(fc.uniqueArray(fc.integer({ min: 1, max: KEY_A.dkim.length - 1 }), { maxLength: 6 }), async (cuts) => {
        server.set(name('prop.example'), [{ type: 'TXT', data: splitAt(KEY_A.dkim, [...cuts].sort((a, b) => a - b)) }]);
        expect(spkiOf(await keys.resolve('prop.example', 'pw1'))).toEqual(expectedA);
      }),
      { numRuns: 30 },
    );
  });

  it('falls back to TCP when the UDP answer is truncated', async () => {
    server.set(name('tc.example'), [{ type: 'TXT', data: KEY_A.dkim }]);
    server.behaviour.truncateUdp = true;
    expect(spkiOf(await resolver().resolve('tc.example', 'pw1'))).toEqual(expectedA);
    expect(server.queries.map((query) => query.transport)).toEqual(['udp', 'tcp']);
  });

  describe('requireDnssec (on by default), as the reference checks it: AD on the TXT and on the DS of pw.{From}', () => {
    const ds = { type: 'DS' as const, data: { keyTag: 12345, algorithm: 15, digestType: 2, digest: Buffer.alloc(32, 7) } };
    beforeEach(() => {
      server.set(name('signed.example'), [{ type: 'TXT', data: KEY_A.dkim }]);
      server.set('pw.signed.example', [ds]);
    });
    /** The default resolver: DNSSEC required. */
    const strict = (onRejected?: (rejection: DnsKeyRejection) => void) => createDnsKeyResolver({ servers: [server.address], timeoutMs: 500, ...(onRejected ? { onRejected } : {}) });

    it('accepts the key when both answers carry AD, asking with the DO and AD bits', async () => {
      server.behaviour.ad = true;
      expect(spkiOf(await strict().resolve('Signed.Example', 'pw1'))).toEqual(expectedA);
      expect(server.queries).toMatchObject([
        { name: name('signed.example'), type: 'TXT', rd: true, ad: true, dnssecOk: true },
        { name: 'pw.signed.example', type: 'DS', ad: true, dnssecOk: true },
      ]);
    });

    it('refuses a TXT answer without AD (not-authenticated), without asking for the DS', async () => {
      const rejections: DnsKeyRejection[] = [];
      server.behaviour.adFor = { DS: true };
      await expect(strict((r) => rejections.push(r)).resolve('signed.example', 'pw1')).resolves.toBeUndefined();
      expect(rejections).toEqual([{ reason: 'not-authenticated', domain: 'signed.example', selector: 'pw1', name: name('signed.example') }]);
      expect(server.queries.map((q) => q.type)).toEqual(['TXT']);
    });

    it('refuses the key when the DS answer lacks AD (ds-not-authenticated)', async () => {
      const rejections: DnsKeyRejection[] = [];
      server.behaviour.adFor = { TXT: true, DS: false };
      await expect(strict((r) => rejections.push(r)).resolve('signed.example', 'pw1')).resolves.toBeUndefined();
      expect(rejections).toEqual([{ reason: 'ds-not-authenticated', domain: 'signed.example', selector: 'pw1', name: 'pw.signed.example' }]);
    });

    it('refuses the key when pw.{From} has no DS record (ds-missing), even with AD', async () => {
      const rejections: DnsKeyRejection[] = [];
      server.behaviour.ad = true;
      server.set(name('nods.example'), [{ type: 'TXT', data: KEY_A.dkim }]);
      await expect(strict((r) => rejections.push(r)).resolve('nods.example', 'pw1')).resolves.toBeUndefined();
      expect(rejections).toEqual([{ reason: 'ds-missing', domain: 'nods.example', selector: 'pw1', name: 'pw.nods.example' }]);
    });

    it('opts out with requireDnssec: false: an unauthenticated TXT is used and no DS is asked for', async () => {
      expect(spkiOf(await resolver({ requireDnssec: false }).resolve('signed.example', 'pw1'))).toEqual(expectedA);
      expect(server.queries).toMatchObject([{ type: 'TXT', ad: false, dnssecOk: false }]);
    });
  });

  it('resolves NXDOMAIN, and a name without TXT records, to undefined', async () => {
    server.set(name('a-only.example'), [{ type: 'A', data: '192.0.2.1' }]);
    await expect(resolver().resolve('missing.example', 'pw1')).resolves.toBeUndefined();
    await expect(resolver().resolve('a-only.example', 'pw1')).resolves.toBeUndefined();
    expect(server.queries).toHaveLength(2);
  });

  it('rejects with KeyLookupError after `tries` SERVFAIL answers', async () => {
    server.set(name('servfail.example'), [{ type: 'TXT', data: KEY_A.dkim }]);
    server.behaviour.rcode = 'SERVFAIL';
    const error = await resolver({ tries: 3 }).resolve('servfail.example', 'pw1').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(KeyLookupError);
    expect(error).toMatchObject({ domain: 'servfail.example', selector: 'pw1', message: expect.stringMatching(/SERVFAIL/) });
    expect((error as KeyLookupError).cause).toBeInstanceOf(DnsQueryError);
    expect((error as KeyLookupError).cause).toMatchObject({ failure: 'server-failure', server: server.address });
    expect(server.queries).toHaveLength(3);
  });

  it('rejects with KeyLookupError when every try times out', async () => {
    server.behaviour.drop = true;
    const error = await resolver({ timeoutMs: 100, tries: 2 }).resolve('silent.example', 'pw1').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(KeyLookupError);
    expect((error as KeyLookupError).cause).toMatchObject({ failure: 'timeout' });
    expect(server.queries).toHaveLength(2);
  });

  it('asks the next server when one does not answer', async () => {
    const silent = await startDnsServer();
    try {
      silent.behaviour.drop = true;
      server.set(name('second.example'), [{ type: 'TXT', data: KEY_A.dkim }]);
      const keys = createDnsKeyResolver({ servers: [silent.address, server.address], timeoutMs: 300, tries: 1, requireDnssec: false });
      expect(spkiOf(await keys.resolve('second.example', 'pw1'))).toEqual(expectedA);
      expect([silent.queries.length, server.queries.length]).toEqual([1, 1]);
    } finally {
      await silent.stop();
    }
  });

  it('rejects with KeyLookupError when the server cannot be reached', async () => {
    const port = await new Promise<number>((resolve) => {
      const probe = createSocket('udp4').bind(0, '127.0.0.1', () => {
        const { port: free } = probe.address();
        probe.close(() => resolve(free));
      });
    });
    const error = await createDnsKeyResolver({ servers: [`127.0.0.1:${port}`], timeoutMs: 300, tries: 2, requireDnssec: false })
      .resolve('unreachable.example', 'pw1')
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(KeyLookupError);
    expect((error as KeyLookupError).message).toMatch(/after 2 queries/);
  });

  it('reads an RSA record (k=rsa)', async () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey;
    const p = rsa.export({ format: 'der', type: 'spki' }).toString('base64');
    server.set(name('rsa.example'), [{ type: 'TXT', data: `v=DKIM1; k=rsa; p=${p}` }]);
    const key = await resolver().resolve('rsa.example', 'pw1');
    expect(key?.algorithm).toBe('rsa');
    expect(spkiOf(key)).toEqual(rsa.export({ format: 'der', type: 'spki' }));
  });

  it('picks the DKIM record among other TXT records', async () => {
    server.set(name('many.example'), [
      { type: 'TXT', data: 'v=spf1 -all' },
      { type: 'TXT', data: 'site-verification=abc123' },
      { type: 'TXT', data: KEY_A.dkim },
    ]);
    expect(spkiOf(await resolver().resolve('many.example', 'pw1'))).toEqual(expectedA);
  });

  it('skips a malformed DKIM record for a readable one, and reports it', async () => {
    server.set(name('mixed.example'), [
      { type: 'TXT', data: 'v=DKIM1; k=ed25519; p=not-base64!' },
      { type: 'TXT', data: KEY_A.dkim },
    ]);
    const rejections: DnsKeyRejection[] = [];
    const key = await resolver({ onRejected: (rejection) => rejections.push(rejection) }).resolve('mixed.example', 'pw1');
    expect(spkiOf(key)).toEqual(expectedA);
    expect(rejections).toMatchObject([{ reason: 'invalid-key', domain: 'mixed.example' }]);
  });

  it('treats an unreadable or revoked key as no key, keeping the KeyFormatError as the cause', async () => {
    server.set(name('bad.example'), [{ type: 'TXT', data: 'v=DKIM1; k=ed25519; p=bm90IGEga2V5' }]);
    server.set(name('revoked.example'), [{ type: 'TXT', data: 'v=DKIM1; k=ed25519; p=' }]);
    const rejections: DnsKeyRejection[] = [];
    const keys = resolver({ onRejected: (rejection) => rejections.push(rejection) });
    await expect(keys.resolve('bad.example', 'pw1')).resolves.toBeUndefined();
    await expect(keys.resolve('revoked.example', 'pw1')).resolves.toBeUndefined();
    expect(rejections.map((rejection) => rejection.reason)).toEqual(['invalid-key', 'invalid-key']);
    expect(rejections[0]?.cause).toBeInstanceOf(KeyFormatError);
    expect(rejections[1]?.cause?.message).toMatch(/revoked/);
  });

  it('follows a CNAME to the TXT record and ignores unrelated records in the answer', async () => {
    server.set(name('alias.example'), [{ type: 'CNAME', data: 'keys.provider.example' }]);
    server.set('keys.provider.example', [{ type: 'TXT', data: KEY_A.dkim }]);
    const other = generateKeyPairSync('ed25519').publicKey.export({ format: 'der', type: 'spki' }).subarray(12).toString('base64');
    server.behaviour.extraAnswers = [
      { type: 'CNAME', name: 'unrelated.example', ttl: 60, class: 'IN', data: 'elsewhere.example' },
      { type: 'TXT', name: 'elsewhere.example', ttl: 60, class: 'IN', data: `v=DKIM1; k=ed25519; p=${other}` },
    ];
    expect(spkiOf(await resolver().resolve('alias.example', 'pw1'))).toEqual(expectedA);
  });

  it('ignores an answer whose id does not match the query', async () => {
    server.set(name('spoofed.example'), [{ type: 'TXT', data: KEY_A.dkim }]);
    server.behaviour.spoofWrongId = true;
    expect(spkiOf(await resolver().resolve('spoofed.example', 'pw1'))).toEqual(expectedA);
  });

  it('asks nothing without a selector, or for a name DNS cannot hold', async () => {
    const rejections: DnsKeyRejection[] = [];
    const keys = resolver({ onRejected: (rejection) => rejections.push(rejection) });
    await expect(keys.resolve('sender.example', undefined)).resolves.toBeUndefined();
    await expect(keys.resolve('sender.example', '')).resolves.toBeUndefined();
    await expect(keys.resolve('bad domain..example', 'pw1')).resolves.toBeUndefined();
    expect(rejections).toMatchObject([{ reason: 'invalid-name' }]);
    expect(server.queries).toHaveLength(0);
  });

  it('refuses invalid options at creation', () => {
    expect(() => createDnsKeyResolver({ servers: ['dns.example'] })).toThrow(ConfigError);
    expect(() => createDnsKeyResolver({ servers: ['127.0.0.1:99999'] })).toThrow(ConfigError);
    expect(() => createDnsKeyResolver({ servers: [] })).toThrow(ConfigError);
    expect(() => createDnsKeyResolver({ servers: ['127.0.0.1'], tries: 0 })).toThrow(ConfigError);
    expect(() => createDnsKeyResolver({ servers: ['127.0.0.1'], timeoutMs: 0 })).toThrow(ConfigError);
  });
});
