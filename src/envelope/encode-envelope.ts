import type { Envelope } from './types.ts';

/** Bodies signed from a `LosslessBody`: written with their number tokens, not `JSON.stringify`'s digits. */
const bodyTexts = new WeakMap<Envelope, string>();

/** @internal Makes {@link encodeEnvelope} write `envelope`'s Body as `text` (the same value, numbers as written). */
export function rememberBodyText(envelope: Envelope, text: string): void {
  bodyTexts.set(envelope, text);
}

/**
 * The compact JSON wire form of an envelope (Header, Body, Hash, Signature). A Body signed
 * from a `LosslessBody` keeps its number tokens (`1.0`, `-0.0`, long integers).
 *
 * @example
 * const text = encodeEnvelope(signEnvelope(draft, key));
 */
export function encodeEnvelope(envelope: Envelope): string {
  const bodyText = bodyTexts.get(envelope);
  if (bodyText === undefined) return JSON.stringify({ Header: envelope.Header, Body: envelope.Body, Hash: envelope.Hash, Signature: envelope.Signature });
  const q = JSON.stringify;
  return `{"Header":${q(envelope.Header)},"Body":${bodyText},"Hash":${q(envelope.Hash)},"Signature":${q(envelope.Signature)}}`;
}
