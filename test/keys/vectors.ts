import { readFileSync } from 'node:fs';
import type { PublicKey } from '../../src/keys/index.ts';

const keyA = new URL('../../../shared/vectors/pollyweb/keys/A/', import.meta.url);
const read = (file: string): string => readFileSync(new URL(file, keyA), 'utf8');

/** Key A of the PollyWeb vectors, in its three published forms. */
export const KEY_A = {
  pem: read('public.pem'),
  raw: read('public.raw.b64').trim(),
  dkim: read('dkim.txt').trim(),
} as const;

/** The SPKI DER of a parsed key, for comparing keys. */
export const spkiOf = (key: PublicKey | undefined): Buffer | undefined => key?.key.export({ format: 'der', type: 'spki' });
