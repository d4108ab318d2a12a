import { MailroomError } from '../errors.ts';

/**
 * `signEnvelope` was given a draft that would not validate as MSG 1.0 (a bad address,
 * an empty Subject, a Body JSON cannot carry...). `field` and `code` say what, as a
 * `malformed` rejection would.
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
