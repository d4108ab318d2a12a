import { readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { MailroomError } from '../errors.ts';

/** A CLI usage or input problem: printed as `error: ...` and exit code 2. */
export class CliUsageError extends MailroomError {
  readonly _tag = 'CliUsageError';
  constructor(message: string, readonly hint?: string) {
    super(message);
  }
}

/** The runtime answered 401: it wants an admin token. Printed as `error: ...`, exit code 1. */
export class AdminTokenError extends MailroomError {
  readonly _tag = 'AdminTokenError';
  readonly exitCode = 1;
  constructor(detail: string | undefined) {
    super(`the runtime wants an admin token: --token or MAILROOM_ADMIN_TOKEN${detail ? ` (${detail})` : ''}`);
  }
}

/**
 * Reads at most `maxBytes + 1` bytes from stdin, so an oversized input is detected
 * without being read whole.
 */
export async function readStdinBounded(maxBytes: number): Promise<Uint8Array> {
  if (process.stdin.isTTY) {
    throw new CliUsageError('no envelope given', 'pipe one on standard input or name a file: mailroom verify --key KEY envelope.json');
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of process.stdin as AsyncIterable<Buffer>) {
    chunks.push(chunk);
    size += chunk.length;
    if (size > maxBytes) break;
  }
  process.stdin.destroy();
  return Buffer.concat(chunks).subarray(0, maxBytes + 1);
}

/** Reads a file, or fails with a CliUsageError naming it. */
export async function readFileOrFail(path: string, what: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    throw new CliUsageError(`cannot read ${what} ${path}${code ? ` (${code})` : ''}`);
  }
}

/** `@file` reads the file, anything else is the literal text. */
export async function literalOrFile(value: string, what: string): Promise<string> {
  return value.startsWith('@') ? readFileOrFail(value.slice(1), what) : value;
}

/**
 * A key argument: an existing file's contents, else the literal text (a raw base64 key, a
 * DKIM record). Text that names a file that is not there (a path, or a name ending in .pem,
 * .txt, .b64, .key) is a missing key file, not a malformed key.
 */
export async function keyArgument(value: string): Promise<string> {
  if (existsSync(value)) return readFileOrFail(value, 'key file');
  const literal = /^[A-Za-z0-9+/]{40,}={0,2}$/.test(value.trim()) || /v=DKIM1|p=|BEGIN /.test(value);
  if (!literal && (/\.(pem|txt|b64|key|der)$/i.test(value) || /[\\/]/.test(value) || value.startsWith('.'))) {
    throw new CliUsageError(`cannot read key file ${value} (ENOENT: no such file)`, 'give the path of a PEM or DKIM TXT file (mailroom keys generate writes them), or the raw base64 key itself');
  }
  return value;
}
