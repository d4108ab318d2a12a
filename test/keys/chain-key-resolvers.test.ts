import { describe, expect, it } from 'vitest';
import { KeyLookupError } from '../../src/errors.ts';
import { chainKeyResolvers, createStaticKeyring, parsePublicKey, type KeyResolver } from '../../src/keys/index.ts';
import { KEY_A } from './vectors.ts';

const keyA = parsePublicKey(KEY_A.pem);
const failing = (domain: string): KeyResolver => ({ resolve: () => Promise.reject(new KeyLookupError('DNS down', domain, 'pw1')) });
const none: KeyResolver = { resolve: () => Promise.resolve(undefined) };
const fixed: KeyResolver = { resolve: () => Promise.resolve(keyA) };

describe('chainKeyResolvers', () => {
  it('returns the first defined answer, without asking the rest', async () => {
    let asked = false;
    const spy: KeyResolver = { resolve: () => ((asked = true), Promise.resolve(undefined)) };
    const keyring = createStaticKeyring([{ domain: 'pinned.example', key: KEY_A.dkim }]);
    const chain = chainKeyResolvers(none, keyring, spy);
    expect(await chain.resolve('pinned.example', 'pw1')).toBeDefined();
    expect(asked).toBe(false);
    await expect(chain.resolve('other.example', 'pw1')).resolves.toBeUndefined();
    expect(asked).toBe(true);
  });

  it('still answers when an earlier resolver fails and a later one has the key', async () => {
    await expect(chainKeyResolvers(failing('a.example'), fixed).resolve('a.example', 'pw1')).resolves.toBe(keyA);
  });

  it('rejects with the first failure when no resolver has the key', async () => {
    const chain = chainKeyResolvers(none, failing('first.example'), failing('second.example'));
    await expect(chain.resolve('a.example', 'pw1')).rejects.toMatchObject({ domain: 'first.example' });
  });

  it('resolves to undefined when empty', async () => {
    await expect(chainKeyResolvers().resolve('a.example', 'pw1')).resolves.toBeUndefined();
  });
});
