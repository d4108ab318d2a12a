/**
 * The base of every error Mailroom throws: a subclass with a string `_tag` literal,
 * structured fields and an optional `cause`; never a thrown string. Expected outcomes (a
 * discarded envelope) are values, not exceptions.
 *
 * Each subclass documents its contract: when it is thrown, what the runtime does with it,
 * and the HTTP status it maps to ({@link httpStatusOf}), if any.
 */
export abstract class MailroomError extends Error {
  abstract readonly _tag: string;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}
