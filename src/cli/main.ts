import { Command, CommanderError } from 'commander';
import { MailroomError } from '../errors.ts';
import { packageVersion } from '../package-root.ts';
import { guardPipes, writeErr } from './output.ts';
import { registerKeysCommand } from './keys-command.ts';
import { registerSignCommand } from './sign-command.ts';
import { registerVerifyCommand } from './verify-command.ts';
import { registerStartCommand } from './start-command.ts';
import { registerSendCommand } from './send-command.ts';
import { registerStatusCommand } from './status-command.ts';
import { registerDlqCommand } from './dlq-command.ts';
import { registerMachinesCommand } from './machines-command.ts';
import { registerWorkflowsCommand } from './workflows-command.ts';
import { registerContextCommand } from './context-command.ts';

/** Builds the `mailroom` command tree. */
function createProgram(): Command {
  const program = new Command('mailroom')
    .description('Mailroom: signed domain-to-domain messages on NATS JetStream, one XState actor per envelope')
    .version(packageVersion())
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  registerKeysCommand(program);
  registerSignCommand(program);
  registerVerifyCommand(program);
  registerStartCommand(program);
  registerSendCommand(program);
  registerStatusCommand(program);
  registerDlqCommand(program);
  registerMachinesCommand(program);
  registerWorkflowsCommand(program);
  registerContextCommand(program);
  return program;
}

/** The first line of a cause and where it was thrown (its first stack frame), e.g. a handler module that fails to load. */
function causeLines(cause: unknown): string[] {
  if (cause === undefined) return [];
  if (!(cause instanceof Error)) return [`cause: ${String(cause)}`];
  const lines = [`cause: ${cause.name === 'Error' ? '' : `${cause.name}: `}${cause.message.split('\n')[0]}`];
  const frame = cause.stack?.split('\n').find((line) => /^\s+at /.test(line));
  if (frame) lines.push(`  ${frame.trim()}`);
  return lines;
}

/** An error the system reports by code (EADDRINUSE and the like), with what to do about it. */
function systemErrorHint(error: NodeJS.ErrnoException): { message: string; hint?: string } | undefined {
  const where = (error as { address?: string; port?: number }).port !== undefined ? `${(error as { address?: string }).address ?? ''}:${(error as { port?: number }).port}` : undefined;
  switch (error.code) {
    case 'EADDRINUSE':
      return { message: `the address ${where ?? ''} is already in use`.replace('  ', ' '), hint: 'another process listens there (an earlier mailroom start?): stop it, or pick another port with --port or http.port' };
    case 'EACCES':
      return where ? { message: `no permission to listen on ${where}`, hint: 'ports below 1024 need privileges: pick another port with --port or http.port' } : undefined;
    case 'EADDRNOTAVAIL':
      return { message: `the address ${where ?? ''} is not one of this machine's`.replace('  ', ' '), hint: 'check http.host (127.0.0.1 or 0.0.0.0 are safe choices)' };
    default:
      return undefined;
  }
}

/** Prints an error as `error: …` (+ `hint: …`, the issues, the cause) on stderr and returns the exit code. */
export function report(error: unknown): number {
  if (error instanceof CommanderError) {
    // --help and --version exit through here with code 0.
    return error.exitCode === 0 ? 0 : 2;
  }
  const write = (line: string) => writeErr(`${line}\n`);
  if (error instanceof MailroomError) {
    write(`error: ${error.message}`);
    const hint = (error as { hint?: unknown }).hint;
    if (typeof hint === 'string') write(`hint: ${hint}`);
    const issues = (error as { issues?: unknown }).issues;
    // A ConfigError's message already lists its issues, one a line: print each once.
    if (Array.isArray(issues)) for (const issue of issues as { path: string; message: string }[]) if (!error.message.includes(`${issue.path}: ${issue.message}`)) write(`  ${issue.path}: ${issue.message}`);
    const system = error.cause instanceof Error ? systemErrorHint(error.cause as NodeJS.ErrnoException) : undefined;
    // An error that carries a system code itself (the ingress worker's EADDRINUSE) already says what happened: add the hint.
    const own = typeof hint === 'string' ? undefined : systemErrorHint(error as NodeJS.ErrnoException);
    if (system) {
      write(`cause: ${system.message}`);
      if (system.hint) write(`hint: ${system.hint}`);
    } else for (const line of causeLines(error.cause)) write(line);
    if (own?.hint) write(`hint: ${own.hint}`);
    const exitCode = (error as { exitCode?: unknown }).exitCode;
    return typeof exitCode === 'number' ? exitCode : 2;
  }
  const system = error instanceof Error ? systemErrorHint(error as NodeJS.ErrnoException) : undefined;
  if (system) {
    write(`error: ${system.message}`);
    if (system.hint) write(`hint: ${system.hint}`);
    return 1;
  }
  write(`error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  return 2;
}

export async function main(argv: readonly string[]): Promise<number> {
  guardPipes();
  try {
    await createProgram().parseAsync([...argv], { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (error) {
    return report(error);
  }
}

const isEntry = process.argv[1] !== undefined && /cli[\\/]main\.[jt]s$/.test(process.argv[1]);
if (isEntry) {
  process.exitCode = await main(process.argv.slice(2));
}
