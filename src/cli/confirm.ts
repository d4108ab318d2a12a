import { CliUsageError } from './io.ts';
import { interactive } from './output.ts';

/** `-f, --force`: skip the confirmation of a destructive command. */
export interface ForceFlags {
  force?: boolean;
}

/**
 * Asks before a destructive action. `--force` skips the question; without a terminal to ask on
 * (a script, a pipe) and without `--force` the command refuses, so nothing is destroyed by a
 * command line that nobody confirmed. Answering no ends the command with exit code 1.
 */
export async function confirmDestructive(question: string, flags: ForceFlags, what: string): Promise<void> {
  if (flags.force) return;
  if (!interactive()) throw new CliUsageError(`refusing to ${what} without confirmation: there is no terminal to ask on`, 'add -f (--force) to do it from a script');
  const { default: confirm } = await import('@inquirer/confirm');
  let yes: boolean;
  try {
    yes = await confirm({ message: question, default: false });
  } catch (cause) {
    // Ctrl-C at the prompt.
    if (cause instanceof Error && cause.name === 'ExitPromptError') yes = false;
    else throw cause;
  }
  if (!yes) throw new CliDeclinedError(what);
}

/** The person at the terminal answered no: nothing was done, exit code 1. */
export class CliDeclinedError extends CliUsageError {
  readonly exitCode = 1;
  constructor(what: string) {
    super(`not confirmed: did not ${what}`);
  }
}
