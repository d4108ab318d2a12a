/** Shared helpers for the envelope tests: the interop vectors, keys, a fixed header. */
import { generateKeyPairSync } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import type { EnvelopeHeader } from '../../src/envelope/index.ts';
import { parsePublicKey, type PrivateKey, type PublicKey } from '../../src/keys/public-key.ts';

export const vectorsDir = new URL('../../../shared/vectors/pollyweb/', import.meta.url);

export function vectorFiles(kind: 'valid' | 'invalid'): string[] {
  return readdirSync(new URL(`${kind}/`, vectorsDir))
    .filter((name) => name.endsWith('.json'))
    .map((name) => name.slice(0, -'.json'.length))
    .sort();
}

export function readVector(path: string): Buffer {
  return readFileSync(new URL(path, vectorsDir));
}

/** Key A in each of the forms the vectors ship it in. */
export function keyAForms(): Record<'pem' | 'raw' | 'dkim', PublicKey> {
  const read = (name: string) => readFileSync(new URL(`keys/A/${name}`, vectorsDir), 'utf8');
  return { pem: parsePublicKey(read('public.pem')), raw: parsePublicKey(read('public.raw.b64')), dkim: parsePublicKey(read('dkim.txt')) };
}

export function ed25519Pair(): { privateKey: PrivateKey; publicKey: PublicKey } {
  const pair = generateKeyPairSync('ed25519');
  return { privateKey: { algorithm: 'ed25519', key: pair.privateKey }, publicKey: { algorithm: 'ed25519', key: pair.publicKey } };
}

export const fixedHeader: EnvelopeHeader = {
  Schema: 'pollyweb.org/MSG:1.0',
  From: 'sender.example.com',
  To: 'receiver.example.org',
  Subject: 'Hello@Host',
  Correlation: '3fa85f64-5717-4562-b3fc-2c963f66afa6',
  Timestamp: '2025-06-01T12:00:00.000Z',
  Selector: 'pw1',
};

/** The canonical Header member for `fixedHeader`, written out by hand. */
export const fixedHeaderJson =
  '{"Correlation":"3fa85f64-5717-4562-b3fc-2c963f66afa6","From":"sender.example.com","Schema":"pollyweb.org/MSG:1.0","Selector":"pw1","Subject":"Hello@Host","Timestamp":"2025-06-01T12:00:00.000Z","To":"receiver.example.org"}';
