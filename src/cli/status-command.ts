import type { Command } from 'commander';
import { addRuntimeOptions, callRuntime, connectionOf, printAnswer, type RuntimeFlags } from './runtime-client.ts';

/** `mailroom status FROM CORRELATION`: the state and history of one envelope. */
export function registerStatusCommand(program: Command): void {
  addRuntimeOptions(program.command('status').description('show the state, history and outcome of one envelope'))
    .argument('<from>', 'the sender of the envelope')
    .argument('<correlation>', 'its correlation ID')
    .action(async (from: string, correlation: string, flags: RuntimeFlags) => {
      printAnswer(await callRuntime(await connectionOf(flags), 'GET', `/envelopes/${encodeURIComponent(from)}/${encodeURIComponent(correlation)}`));
    });
}
