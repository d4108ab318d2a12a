import { MailroomError } from './mailroom-error.ts';

/**
 * `signEnvelope` was given a draft that would not validate as MSG 1.0 (a bad address,
 * an empty Subject, a Body JSON cannot carry...). `field` and `code` say what, as a
 * `malformed` rejection would.
 *
 * - Thrown by `signEnvelope` (and so by `mailroom.send` / `request` for a bad draft).
 * - Final: the same draft never signs; nothing is stored or sent.
 * - HTTP: none of its own (500): the HTTP routes check their input before they sign.
 */
export class EnvelopeDraftError extends MailroomError {
  readonly _tag = 'EnvelopeDraftError';
  constructor(
    message: string,
    readonly field: string,
    readonly code: string | undefined,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
