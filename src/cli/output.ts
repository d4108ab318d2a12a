import { isSafeNumber, LosslessNumber, parse as parseLossless, stringify as stringifyLossless } from 'lossless-json';

/**
 * What the CLI prints. Standard output may be a pipe that closes early
 * (`mailroom dlq list | head -1`): {@link guardPipes} turns the EPIPE that follows into a
 * quiet exit instead of an "Unhandled 'error' event" stack.
 */
let guarded = false;
export function guardPipes(): void {
  if (guarded) return;
  guarded = true;
  const quit = (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE' || error.code === 'ERR_STREAM_DESTROYED') process.exit(typeof process.exitCode === 'number' ? process.exitCode : 0);
    throw error;
  };
  process.stdout.on('error', quit);
  process.stderr.on('error', quit);
}

/** Writes to standard output (see {@link guardPipes}). */
export const out = (text: string): void => void process.stdout.write(text);
/** Writes to standard error. */
export const writeErr = (text: string): void => void process.stderr.write(text);

/** True when a person is at the terminal: standard input and output are both TTYs. */
export const interactive = (): boolean => Boolean(process.stdin.isTTY && process.stdout.isTTY);

/**
 * Parses a runtime's JSON answer: numbers a double holds exactly become numbers, others
 * (`12345678901234567890`) stay {@link LosslessNumber}s and print as written.
 */
export function parseAnswer(text: string): unknown {
  return parseLossless(text, null, (token) => (isSafeNumber(token) ? Number(token) : new LosslessNumber(token)));
}

/** Parses JSON keeping every number token as written (`1.0` stays `1.0`): for bodies, printed with {@link jsonText}. */
export function parseExact(text: string): unknown {
  return parseLossless(text);
}

/** JSON text of a value that may hold {@link LosslessNumber}s; `indent` for people, compact otherwise. */
export function jsonText(value: unknown, indent?: number): string {
  return stringifyLossless(value, null, indent) ?? 'null';
}

/** `--json`: prints the value as indented JSON, one document. */
export function printJson(value: unknown): void {
  out(`${jsonText(value, 2)}\n`);
}

/** `key: value` lines, the keys padded to one column; undefined values are left out. */
export function printFields(fields: readonly (readonly [string, unknown])[], indent = ''): void {
  const shown = fields.filter(([, value]) => value !== undefined && value !== '');
  const width = Math.max(0, ...shown.map(([key]) => key.length)) + 1;
  for (const [key, value] of shown) out(`${indent}${`${key}:`.padEnd(width)} ${typeof value === 'string' ? value : jsonText(value)}\n`);
}

/** A time as ISO text, from an epoch-milliseconds number or an ISO string. */
export const timeText = (at: unknown): string => (typeof at === 'number' || at instanceof LosslessNumber ? new Date(Number(at)).toISOString() : String(at));
