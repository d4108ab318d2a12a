import fc from 'fast-check';
import { stringify as toYaml } from 'yaml';
import { describe, expect, it } from 'vitest';
import { decodeEnvelope, encodeEnvelope, signEnvelope, verifyEnvelopeText } from '../../src/envelope/index.ts';
import { ed25519Pair } from './fixtures.ts';

const { privateKey, publicKey } = ed25519Pair();
const good = encodeEnvelope(signEnvelope({ From: 'sender.example.com', To: 'receiver.example.org', Subject: 'Hello@Host', Selector: 'pw1', Body: { n: [1, 2.5, 'x'] } }, privateKey));

/** Decodes and verifies; any outcome is fine except an exception. */
function survives(input: string | Uint8Array, format?: 'json' | 'yaml'): boolean {
  const result = verifyEnvelopeText(input, publicKey, format ? { format } : undefined);
  return result.ok || typeof result.error.reason === 'string';
}

describe('decoding never throws', () => {
  it('for arbitrary text and bytes', () => {
    fc.assert(fc.property(fc.string({ unit: 'binary' }), (text) => survives(text) && survives(text, 'json') && survives(text, 'yaml')), { numRuns: 500 });
    fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => survives(bytes)), { numRuns: 300 });
  });

  it('for arbitrary JSON values in every position', () => {
    fc.assert(
      fc.property(fc.constantFrom('Header', 'Body', 'Hash', 'Signature', '__proto__', 'Header.From', 'Header.__proto__', 'Header.Schema'), fc.jsonValue(), (path, value) => {
        const wire = JSON.parse(good) as Record<string, Record<string, unknown>>;
        const [first, second] = path.split('.') as [string, string | undefined];
        if (second) Object.defineProperty(wire[first]!, second, { value, enumerable: true, configurable: true, writable: true });
        else Object.defineProperty(wire, first, { value, enumerable: true, configurable: true, writable: true });
        const text = JSON.stringify(wire);
        return survives(text) && survives(toYaml(wire), 'yaml');
      }),
      { numRuns: 500 },
    );
  });

  it('for single-character edits of a valid envelope', () => {
    fc.assert(
      fc.property(fc.nat({ max: good.length - 1 }), fc.string({ unit: 'binary', maxLength: 2 }), (at, insert) => {
        const edited = good.slice(0, at) + insert + good.slice(at + 1);
        const result = decodeEnvelope(edited);
        expect(result.ok || result.error.reason).toBeTruthy();
        return survives(edited);
      }),
      { numRuns: 1000 },
    );
  });
});
