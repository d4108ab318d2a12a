/**
 * Mailroom: the one public entry of the library. Explicit named exports only.
 */
export * from './errors.ts';
