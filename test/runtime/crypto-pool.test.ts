/**
 * The crypto worker pool: real Ed25519 and RSA, results equal to node:crypto's on the main thread.
 */
import { generateKeyPairSync, randomBytes, sign, verify, type KeyObject } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cryptoWorkerCount, createCryptoPool, CryptoPoolError, type CryptoPool } from '../../src/runtime/crypto-pool.ts';

interface Pair {
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  readonly pkcs8: Buffer;
  readonly spki: Buffer;
}

function pair(type: 'ed25519' | 'rsa'): Pair {
  const { privateKey, publicKey } = type === 'ed25519' ? generateKeyPairSync('ed25519') : generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { privateKey, publicKey, pkcs8: privateKey.export({ format: 'der', type: 'pkcs8' }), spki: publicKey.export({ format: 'der', type: 'spki' }) };
}

const ed = pair('ed25519');
const ed2 = pair('ed25519');
const rsa = pair('rsa');
const message = new TextEncoder().encode('{"Body":{"text":"hi"},"Header":{"From":"orders.example"}}');

let pool: CryptoPool;
beforeAll(() => {
  pool = createCryptoPool({ size: 2 });
});
afterAll(async () => {
  await pool.close();
});

describe('createCryptoPool', () => {
  it('signs like node:crypto (Ed25519 and RSA PKCS#1 v1.5 are deterministic: the same bytes)', async () => {
    const signature = await pool.sign(message, ed.pkcs8, 'ed25519');
    expect(Buffer.from(signature)).toEqual(sign(null, message, ed.privateKey));
    expect(signature).toHaveLength(64);
    const rsaSignature = await pool.sign(message, rsa.pkcs8, 'rsa');
    expect(Buffer.from(rsaSignature)).toEqual(sign('sha256', message, rsa.privateKey));
  });

  it('verifies what node:crypto signed, and what it signed itself', async () => {
    expect(await pool.verify(message, sign(null, message, ed.privateKey), ed.spki, 'ed25519')).toBe(true);
    expect(await pool.verify(message, sign('sha256', message, rsa.privateKey), rsa.spki, 'rsa')).toBe(true);
    const own = await pool.sign(message, ed.pkcs8, 'ed25519');
    expect(verify(null, message, ed.publicKey, own)).toBe(true);
  });

  it('answers false for a bad signature: flipped bit, other data, other key, wrong length, empty', async () => {
    const good = sign(null, message, ed.privateKey);
    const flipped = Buffer.from(good);
    flipped[10] = flipped[10]! ^ 1;
    expect(await pool.verify(message, flipped, ed.spki, 'ed25519')).toBe(false);
    expect(await pool.verify(new TextEncoder().encode('other'), good, ed.spki, 'ed25519')).toBe(false);
    expect(await pool.verify(message, good, ed2.spki, 'ed25519')).toBe(false);
    expect(await pool.verify(message, good.subarray(0, 63), ed.spki, 'ed25519')).toBe(false);
    expect(await pool.verify(message, new Uint8Array(0), ed.spki, 'ed25519')).toBe(false);
    expect(await pool.verify(message, randomBytes(256), rsa.spki, 'rsa')).toBe(false);
    expect(await pool.verify(message, randomBytes(3), rsa.spki, 'rsa')).toBe(false);
  });

  it('rejects an unusable key, or a key of the other algorithm, and keeps working', async () => {
    await expect(pool.verify(message, new Uint8Array(64), new Uint8Array([1, 2, 3]), 'ed25519')).rejects.toBeInstanceOf(CryptoPoolError);
    await expect(pool.sign(message, ed.pkcs8, 'rsa')).rejects.toThrow(/not rsa/);
    await expect(pool.sign(message, ed.spki, 'ed25519')).rejects.toThrow(/private key/);
    expect(await pool.verify(message, sign(null, message, ed.privateKey), ed.spki, 'ed25519')).toBe(true);
  });

  it('many concurrent calls with several keys: every result right, and sent in batches', async () => {
    const before = pool.stats();
    const n = 3000;
    const inputs = Array.from({ length: n }, (_, i) => new TextEncoder().encode(`message ${i} ${'x'.repeat(i % 300)}`));
    const keys = [ed, ed2];
    const calls = inputs.map(async (data, i) => {
      const k = keys[i % 2]!;
      if (i % 3 === 0) return Buffer.from(await pool.sign(data, k.pkcs8, 'ed25519')).equals(sign(null, data, k.privateKey));
      const signature = sign(null, data, k.privateKey);
      if (i % 3 === 1) return (await pool.verify(data, signature, k.spki, 'ed25519')) === true;
      return (await pool.verify(data, signature, keys[(i + 1) % 2]!.spki, 'ed25519')) === false;
    });
    const results = await Promise.all(calls);
    expect(results.every(Boolean)).toBe(true);
    const after = pool.stats();
    expect(after.operations - before.operations).toBe(n);
    expect(after.batches - before.batches).toBeLessThan(n / 10);
    expect(after.queued).toBe(0);
  });

  it('does not alter the caller’s buffers', async () => {
    const data = Uint8Array.from(message);
    const der = Uint8Array.from(ed.pkcs8);
    await pool.sign(data, der, 'ed25519');
    expect(Buffer.from(data)).toEqual(Buffer.from(message));
    expect(Buffer.from(der)).toEqual(ed.pkcs8);
  });
});

describe('threads', () => {
  it('start with the first call, not with the pool: an idle pool holds none', async () => {
    const own = createCryptoPool({ size: 2 });
    try {
      expect(own.stats().threads).toBe(0);
      expect(await own.sign(message, ed.pkcs8, 'ed25519')).toHaveLength(64);
      expect(own.stats().threads).toBe(2);
    } finally {
      await own.close();
    }
  });

  it('crypto.workers auto is one per core, and none on one core', () => {
    expect(cryptoWorkerCount('auto', 1)).toBe(0);
    expect(cryptoWorkerCount('auto', 2)).toBe(2);
    expect(cryptoWorkerCount('auto', 8)).toBe(8);
    expect(cryptoWorkerCount(3, 1)).toBe(3);
    expect(cryptoWorkerCount(0, 8)).toBe(0);
  });
});

describe('close', () => {
  it('finishes the calls already made, refuses new ones, and is idempotent', async () => {
    const own = createCryptoPool({ size: 1 });
    const pending = Array.from({ length: 50 }, () => own.sign(message, ed.pkcs8, 'ed25519'));
    const first = own.close();
    const second = own.close();
    expect(second).toBe(first);
    const signatures = await Promise.all(pending);
    expect(signatures.every((s) => s.length === 64)).toBe(true);
    await first;
    await expect(own.verify(message, new Uint8Array(64), ed.spki, 'ed25519')).rejects.toThrow(/closed/);
    await expect(own.close()).resolves.toBeUndefined();
  });

  it('closes a pool that never did any work', async () => {
    const own = createCryptoPool();
    expect(own.size).toBeGreaterThanOrEqual(1);
    await own.close();
    await own.close();
  });
});
