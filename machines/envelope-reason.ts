/**
 * The named reasons an envelope can be discarded for, as the envelope machine knows them.
 *
 * A mirror of `envelopeReasons` in `src/envelope/types.ts`: `machines/` may import only
 * xstate, zod and its own files, so the list is repeated here. A test in
 * `test/machines/envelope-reason.test.ts` fails the moment the two lists drift apart.
 */
export const envelopeReasons = [
  'too-large',
  'unsupported-schema',
  'malformed',
  'not-addressed-to-us',
  'stale-timestamp',
  'future-timestamp',
  'duplicate-correlation',
  'correlation-reused',
  'key-not-found',
  'hash-mismatch',
  'bad-signature',
  'unknown-subject',
] as const;

/** One of {@link envelopeReasons}; the same union as `EnvelopeReason` in `src/envelope/types.ts`. */
export type EnvelopeReason = (typeof envelopeReasons)[number];
