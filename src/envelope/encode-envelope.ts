import type { Envelope } from './types.ts';

/**
 * The compact JSON wire form of an envelope (Header, Body, Hash, Signature).
 *
 * @example
 * const text = encodeEnvelope(signEnvelope(draft, key));
 */
export function encodeEnvelope(envelope: Envelope): string {
  return JSON.stringify({ Header: envelope.Header, Body: envelope.Body, Hash: envelope.Hash, Signature: envelope.Signature });
}
