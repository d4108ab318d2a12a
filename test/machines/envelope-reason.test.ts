import { describe, expect, expectTypeOf, it } from 'vitest';
import { envelopeReasons, type EnvelopeReason } from '../../machines/envelope-reason.ts';
import { envelopeReasons as sourceReasons, type EnvelopeReason as SourceReason } from '../../src/envelope/types.ts';

describe('machines/envelope-reason', () => {
  it('mirrors the reasons of src/envelope/types.ts exactly', () => {
    expect([...envelopeReasons]).toEqual([...sourceReasons]);
    expectTypeOf<EnvelopeReason>().toEqualTypeOf<SourceReason>();
  });
});
