import { Command, CommanderError } from 'commander';
import { MailroomError } from '../errors.ts';
import { packageVersion } from '../package-root.ts';
import { registerKeysCommand } from './keys-command.ts';
import { registerSignCommand } from './sign-command.ts';
import { registerVerifyCommand } from './verify-command.ts';
import { registerStartCommand } from './start-command.ts';
import { registerSendCommand } from './send-command.ts';
import { registerStatusCommand } from './status-command.ts';
import { registerDlqCommand } from './dlq-command.ts';
import { registerMachinesCommand } from './machines-command.ts';
import { registerWorkflowsCommand } from './workflows-command.ts';

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
  return program;
}

function report(error: unknown): number {
  if (error instanceof CommanderError) {
    // --help and --version exit through here with code 0.
    return error.exitCode === 0 ? 0 : 2;
  }
  if (error instanceof MailroomError) {
    process.stderr.write(`error: ${error.message}\n`);
    const hint = (error as { hint?: unknown }).hint;
    if (typeof hint === 'string') process.stderr.write(`hint: ${hint}\n`);
    const issues = (error as { issues?: unknown }).issues;
    if (Array.isArray(issues)) for (const issue of issues as { path: string; message: string }[]) process.stderr.write(`  ${issue.path}: ${issue.message}\n`);
    const exitCode = (error as { exitCode?: unknown }).exitCode;
    return typeof exitCode === 'number' ? exitCode : 2;
  }
  process.stderr.write(`error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  return 2;
}

export async function main(argv: readonly string[]): Promise<number> {
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
