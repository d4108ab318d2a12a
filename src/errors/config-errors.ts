import { MailroomError } from './mailroom-error.ts';

/**
 * A configuration file or option is invalid. `issues` lists each problem with its path.
 *
 * - Thrown by the config loaders, by `startMailroom` for options that do not fit, and by the
 *   request API for a `from` that is not a local domain.
 * - The runtime does not start (or the call fails); nothing is retried.
 * - HTTP: 400.
 */
export class ConfigError extends MailroomError {
  readonly _tag = 'ConfigError';
  constructor(
    message: string,
    readonly issues: readonly { path: string; message: string }[] = [],
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/**
 * A handler, workflow or machine module is a `.ts` file and this process cannot load
 * TypeScript: the built package runs on plain Node, and loads `tsx` (an optional peer
 * dependency) only for such a module. Install `tsx`, or build the module to `.js`.
 *
 * - Thrown while loading modules at start.
 * - The runtime does not start; `hint` says what to do.
 * - HTTP: none (start-up only).
 */
export class TypeScriptModuleError extends MailroomError {
  readonly _tag = 'TypeScriptModuleError';
  readonly hint = 'install tsx to load .ts handler modules (npm install tsx), or build them to .js';
  constructor(
    readonly path: string,
    options?: { cause?: unknown },
  ) {
    super(`cannot load ${path}: it is TypeScript, and tsx is not installed`, options);
  }
}

/**
 * An inspection filter (`--inspect-filter`, `parseInspectionFilter`) that does not parse:
 * `part` is the piece that failed, `hint` shows the syntax.
 *
 * - Thrown by `parseInspectionFilter`, before the runtime starts.
 * - The command (or the caller) fails; nothing is retried.
 * - HTTP: none (the CLI and the embedding code only).
 */
export class InspectionFilterError extends MailroomError {
  readonly _tag = 'InspectionFilterError';
  readonly hint = 'use domain=D, subject=S or correlation=C, separated by commas, e.g. --inspect-filter domain=shop.example,subject=Hello@Host';
  constructor(readonly part: string) {
    super(`bad inspect filter ${JSON.stringify(part)}`);
  }
}
