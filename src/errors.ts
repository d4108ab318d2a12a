/**
 * Tagged errors. Every error Mailroom throws is a `MailroomError` subclass with a
 * string `_tag`, structured fields and an optional `cause`; never a thrown string.
 * Expected outcomes (a discarded envelope) are values, not exceptions.
 */
export abstract class MailroomError extends Error {
  abstract readonly _tag: string;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A configuration file or option is invalid. `issues` lists each problem with its path. */
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

/** A key could not be read: wrong format, wrong algorithm, unreadable file. */
export class KeyFormatError extends MailroomError {
  readonly _tag = 'KeyFormatError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** A key look-up failed for a transient reason (DNS timeout, SERVFAIL): retry later. */
export class KeyLookupError extends MailroomError {
  readonly _tag = 'KeyLookupError';
  constructor(
    message: string,
    readonly domain: string,
    readonly selector: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** NATS / JetStream is unreachable or refused an operation. Transient by nature. */
export class TransportError extends MailroomError {
  readonly _tag = 'TransportError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** The embedded nats-server could not be started. `hint` tells the user how to fix it. */
export class NatsServerError extends MailroomError {
  readonly _tag = 'NatsServerError';
  constructor(
    message: string,
    readonly hint?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/**
 * Another live Mailroom runtime owns the embedded nats-server's store directory: starting a
 * second server there would take the store (and its server) away from the first.
 */
export class AlreadyRunningError extends MailroomError {
  readonly _tag = 'AlreadyRunningError';
  readonly hint = 'Stop that runtime first; or give this one its own nats.embedded.storeDir; or run both against one NATS (nats.url), where they share the work.';
  constructor(
    /** The owner's process id, from the lock file. */
    readonly pid: number,
    readonly storeDir: string,
    readonly lockFile: string,
    options?: { cause?: unknown },
  ) {
    super(`already running, pid ${pid}: another Mailroom runtime owns the embedded nats-server store ${storeDir} (lock ${lockFile})`, options);
  }
}

/**
 * A handler, workflow or machine module is a `.ts` file and this process cannot load
 * TypeScript: the built package runs on plain Node, and loads `tsx` (an optional peer
 * dependency) only for such a module. Install `tsx`, or build the module to `.js`.
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
