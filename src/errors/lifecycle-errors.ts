import { MailroomError } from './mailroom-error.ts';

/**
 * A method of an embedded Mailroom (`createMailroom`) that needs the runtime was called
 * before `start()` resolved or after `stop()`. `method` names it (`send`, `workflows.start`).
 *
 * - Thrown synchronously by that method; nothing was done.
 * - Final: call `await mailroom.start()` first. `workflows.register` and `handle` work before
 *   `start()` and never throw it.
 * - HTTP: none (the HTTP server exists only while the runtime runs).
 */
export class MailroomNotStartedError extends MailroomError {
  readonly _tag = 'MailroomNotStartedError';
  constructor(readonly method: string) {
    super(`mailroom.${method}() needs a started runtime: call await mailroom.start() first`);
  }
}
