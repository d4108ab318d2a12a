import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError, KeyLookupError } from '../../src/errors.ts';
import { createCachedKeyResolver, createDnsKeyResolver, dkimRecordName, parsePublicKey, type KeyResolver, type PublicKey } from '../../src/keys/index.ts';
import { startDnsServer, type TestDnsServer } from '../support/dns-server.ts';
import { KEY_A, spkiOf } from './vectors.ts';

const expectedA = spkiOf(parsePublicKey(KEY_A.pem));
const keyA = parsePublicKey(KEY_A.pem);

let server: TestDnsServer;
let clock = 0;
const now = (): number => clock;
const cachedDns = (options: { ttlMs?: number; negativeTtlMs?: number } = {}) =>
  createCachedKeyResolver(createDnsKeyResolver({ servers: [server.address], timeoutMs: 500, tries: 1, requireDnssec: false }), { now, ...options });

beforeAll(async () => {
  server = await startDnsServer({ [dkimRecordName('sender.example', 'pw1')]: [{ type: 'TXT', data: KEY_A.dkim }] });
});
afterAll(async () => {
  await server.stop();
});
beforeEach(() => {
  server.reset();
  clock = 1_000_000;
});

/** A resolver that counts its calls and answers from a map (an Error is thrown). */
function countingResolver(answers: Record<string, PublicKey | undefined | Error>) {
  const calls: string[] = [];
  const resolver: KeyResolver = {
    resolve(domain, selector) {
      calls.push(`${domain}/${selector ?? ''}`);
      const answer = answers[domain];
      return answer instanceof Error ? Promise.reject(answer) : Promise.resolve(answer);
    },
  };
  return { resolver, calls };
}

describe('createCachedKeyResolver', () => {
  it('answers from the cache within the TTL, and asks again after it', async () => {
    const keys = cachedDns({ ttlMs: 10_000 });
    expect(spkiOf(await keys.resolve('sender.example', 'pw1'))).toEqual(expectedA);
    clock += 9_999;
    expect(spkiOf(await keys.resolve('SENDER.example', 'pw1'))).toEqual(expectedA);
    expect(server.queries).toHaveLength(1);
    clock += 1;
    expect(spkiOf(await keys.resolve('sender.example', 'pw1'))).toEqual(expectedA);
    expect(server.queries).toHaveLength(2);
    expect(keys.size).toBe(1);
  });

  it('keeps "no such key" for the negative TTL', async () => {
    const keys = cachedDns({ ttlMs: 10_000, negativeTtlMs: 1_000 });
    await expect(keys.resolve('nobody.example', 'pw1')).resolves.toBeUndefined();
    clock += 999;
    await expect(keys.resolve('nobody.example', 'pw1')).resolves.toBeUndefined();
    expect(server.queries).toHaveLength(1);
    clock += 1;
    await expect(keys.resolve('nobody.example', 'pw1')).resolves.toBeUndefined();
    expect(server.queries).toHaveLength(2);
  });

  it('does not cache failures', async () => {
    const keys = cachedDns();
    server.behaviour.rcode = 'SERVFAIL';
    await expect(keys.resolve('sender.example', 'pw1')).rejects.toBeInstanceOf(KeyLookupError);
    expect(keys.size).toBe(0);
    server.behaviour.rcode = undefined;
    expect(spkiOf(await keys.resolve('sender.example', 'pw1'))).toEqual(expectedA);
    expect(server.queries).toHaveLength(2);
  });

  it('shares one query between concurrent look-ups of the same key', async () => {
    const keys = cachedDns();
    const answers = await Promise.all(Array.from({ length: 5 }, () => keys.resolve('sender.example', 'pw1')));
    expect(answers.map(spkiOf)).toEqual(Array.from({ length: 5 }, () => expectedA));
    expect(server.queries).toHaveLength(1);
  });

  it('shares a failure between concurrent look-ups, then asks again', async () => {
    const keys = cachedDns();
    server.behaviour.rcode = 'SERVFAIL';
    const results = await Promise.allSettled([keys.resolve('sender.example', 'pw1'), keys.resolve('sender.example', 'pw1')]);
    expect(results.map((result) => result.status)).toEqual(['rejected', 'rejected']);
    expect(server.queries).toHaveLength(1);
    await expect(keys.resolve('sender.example', 'pw1')).rejects.toBeInstanceOf(KeyLookupError);
    expect(server.queries).toHaveLength(2);
  });

  it('tells selectors apart, and "no selector" from any selector', async () => {
    const { resolver, calls } = countingResolver({ 'a.example': keyA });
    const keys = createCachedKeyResolver(resolver, { now });
    await keys.resolve('a.example', 'pw1');
    await keys.resolve('a.example', 'pw2');
    await keys.resolve('a.example', undefined);
    await keys.resolve('a.example', 'pw1');
    expect(calls).toEqual(['a.example/pw1', 'a.example/pw2', 'a.example/']);
  });

  it('evicts the least recently used answer beyond maxEntries', async () => {
    const { resolver, calls } = countingResolver({ 'a.example': keyA, 'b.example': keyA, 'c.example': undefined });
    const keys = createCachedKeyResolver(resolver, { now, maxEntries: 2 });
    await keys.resolve('a.example', 'pw1');
    await keys.resolve('b.example', 'pw1');
    await keys.resolve('c.example', 'pw1'); // evicts a
    expect(keys.size).toBe(2);
    await keys.resolve('a.example', 'pw1'); // asks again, evicts b
    await keys.resolve('c.example', 'pw1'); // cached; c becomes the most recent
    await keys.resolve('d.example', 'pw1'); // evicts a
    await keys.resolve('c.example', 'pw1'); // still cached
    expect(calls).toEqual(['a.example/pw1', 'b.example/pw1', 'c.example/pw1', 'a.example/pw1', 'd.example/pw1']);
  });

  it('forgets everything on clear(), including a look-up under way', async () => {
    let release: (key: PublicKey) => void = () => {};
    let calls = 0;
    const keys = createCachedKeyResolver({
      resolve: () => {
        calls++;
        return new Promise<PublicKey>((resolve) => (release = resolve));
      },
    });
    const first = keys.resolve('a.example', 'pw1');
    keys.clear();
    release(keyA);
    await expect(first).resolves.toBe(keyA);
    expect(keys.size).toBe(0);
    const second = keys.resolve('a.example', 'pw1');
    release(keyA);
    await second;
    expect(calls).toBe(2);
    expect(keys.size).toBe(1);
  });

  it('refuses invalid options', () => {
    const { resolver } = countingResolver({});
    expect(() => createCachedKeyResolver(resolver, { ttlMs: -1 })).toThrow(ConfigError);
    expect(() => createCachedKeyResolver(resolver, { maxEntries: 0 })).toThrow(ConfigError);
    expect(() => createCachedKeyResolver(resolver, { negativeTtlMs: Number.NaN })).toThrow(ConfigError);
  });
});
