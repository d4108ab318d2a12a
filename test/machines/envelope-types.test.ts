import { describe, expectTypeOf, it } from 'vitest';
import type { EnvelopeBody, EnvelopeJsonValue } from '../../machines/envelope.types.ts';
import type { Envelope, JsonValue } from '../../src/envelope/types.ts';

describe('machines/envelope.types', () => {
  it("mirrors the Body type of src/envelope/types.ts exactly (a reply's body travels in the context)", () => {
    expectTypeOf<EnvelopeJsonValue>().toEqualTypeOf<JsonValue>();
    expectTypeOf<EnvelopeBody>().toEqualTypeOf<Envelope['Body']>();
  });
});
