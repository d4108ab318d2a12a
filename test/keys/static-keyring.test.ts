import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { KeyFormatError } from '../../src/errors.ts';
import { createStaticKeyring, parsePublicKey } from '../../src/keys/index.ts';
import { KEY_A, spkiOf } from './vectors.ts';

const expected = spkiOf(parsePublicKey(KEY_A.pem));
const otherPem = generateKeyPairSync('ed25519').publicKey.export({ format: 'pem', type: 'spki' }).toString();

describe('createStaticKeyring', () => {
  it('reads key A in all three of its forms', async () => {
    const keyring = createStaticKeyring([
      { domain: 'pem.example', selector: 'pw1', key: KEY_A.pem },
      { domain: 'raw.example', selector: 'pw1', key: KEY_A.raw },
      { domain: 'dkim.example', selector: 'pw1', key: KEY_A.dkim },
    ]);
    for (const domain of ['pem.example', 'raw.example', 'dkim.example']) {
      const key = await keyring.resolve(domain, 'pw1');
      expect(key?.algorithm, domain).toBe('ed25519');
      expect(spkiOf(key), domain).toEqual(expected);
    }
    expect(expected).toHaveLength(44);
  });

  it('answers any selector, and none, from a selector-less entry; a selector entry wins over it', async () => {
    const other = parsePublicKey(otherPem);
    const keyring = createStaticKeyring([
      { domain: 'sender.example.com', key: KEY_A.raw },
      { domain: 'sender.example.com', selector: 'new', key: otherPem },
    ]);
    expect(spkiOf(await keyring.resolve('sender.example.com', 'pw1'))).toEqual(expected);
    expect(spkiOf(await keyring.resolve('sender.example.com', undefined))).toEqual(expected);
    expect(spkiOf(await keyring.resolve('sender.example.com', 'new'))).toEqual(spkiOf(other));
  });

  it('resolves unknown domains and selectors to undefined', async () => {
    const keyring = createStaticKeyring([{ domain: 'sender.example.com', selector: 'pw1', key: KEY_A.dkim }]);
    await expect(keyring.resolve('unknown.example', 'pw1')).resolves.toBeUndefined();
    await expect(keyring.resolve('sender.example.com', 'pw2')).resolves.toBeUndefined();
    await expect(keyring.resolve('sender.example.com', undefined)).resolves.toBeUndefined();
  });

  it('compares domains case-insensitively and ignores a trailing dot', async () => {
    const keyring = createStaticKeyring([{ domain: 'Sender.Example.COM.', selector: 'pw1', key: KEY_A.dkim }]);
    expect(spkiOf(await keyring.resolve('sender.example.com', 'pw1'))).toEqual(expected);
  });

  it('refuses a bad key at creation, naming the entry', () => {
    const create = () =>
      createStaticKeyring([
        { domain: 'good.example', key: KEY_A.pem },
        { domain: 'bad.example', selector: 'pw9', key: 'v=DKIM1; k=ed25519; p=bm90IGEga2V5' },
      ]);
    expect(create).toThrow(KeyFormatError);
    expect(create).toThrow(/bad\.example.*pw9/);
    expect(thrownBy(create).cause).toBeInstanceOf(KeyFormatError);
  });

  it('adds and replaces entries; a bad added key throws and leaves the keyring as it was', async () => {
    const keyring = createStaticKeyring([]);
    keyring.add({ domain: 'sender.example.com', selector: 'pw1', key: otherPem });
    keyring.add({ domain: 'sender.example.com', selector: 'pw1', key: KEY_A.dkim });
    expect(spkiOf(await keyring.resolve('sender.example.com', 'pw1'))).toEqual(expected);
    expect(() => keyring.add({ domain: 'sender.example.com', selector: 'pw1', key: 'garbage' })).toThrow(/sender\.example\.com \(selector pw1\)/);
    expect(spkiOf(await keyring.resolve('sender.example.com', 'pw1'))).toEqual(expected);
  });

  it('refuses an entry without a domain', () => {
    expect(() => createStaticKeyring([{ domain: ' ', key: KEY_A.pem }])).toThrow(KeyFormatError);
  });
});

function thrownBy(run: () => unknown): Error {
  try {
    run();
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a throw');
}
