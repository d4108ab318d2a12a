import type { Command } from 'commander';
import type { DeadLetter } from '../runtime/dead-letter-store.ts';
import { CliUsageError } from './io.ts';
import { addRuntimeOptions, callRuntime, connectionOf, printAnswer, type RuntimeFlags } from './runtime-client.ts';

function idOf(raw: string): number {
  const id = Number(raw);
  if (!Number.isSafeInteger(id) || id <= 0) throw new CliUsageError(`a dead letter id is a positive integer (see mailroom dlq list), not ${JSON.stringify(raw)}`);
  return id;
}

/** `mailroom dlq list | show | replay | purge`: the dead letters of a running runtime. */
export function registerDlqCommand(program: Command): void {
  const dlq = program.command('dlq').description('list, show, replay and purge dead letters');
  addRuntimeOptions(dlq.command('list').description('the newest dead letters, one line each'))
    .option('--limit <n>', 'how many', '50')
    .option('--json', 'print JSON')
    .action(async (flags: RuntimeFlags & { limit: string; json?: boolean }) => {
      const answer = await callRuntime(await connectionOf(flags), 'GET', `/dead-letters?limit=${encodeURIComponent(flags.limit)}`);
      if (flags.json || answer.status !== 200) return printAnswer(answer);
      const letters = (answer.body as { deadLetters: DeadLetter[] }).deadLetters;
      if (letters.length === 0) process.stdout.write('no dead letters\n');
      for (const l of letters) {
        const e = l.envelope;
        process.stdout.write(`${String(l.id).padStart(6)}  ${l.deadLetteredAt}  ${l.reason.padEnd(12)} ${l.lastState.padEnd(12)} ${e.from ?? '?'} → ${e.to ?? '?'} ${e.subject ?? '?'} ${e.correlation ?? ''}  (${l.attempts} attempts: ${l.detail})\n`);
      }
    });
  addRuntimeOptions(dlq.command('show').description('one dead letter: reason, last state, attempts, history, the envelope').argument('<id>'))
    .action(async (id: string, flags: RuntimeFlags) => {
      const answer = await callRuntime(await connectionOf(flags), 'GET', `/dead-letters/${idOf(id)}`);
      if (answer.status === 200) {
        const letter = answer.body as DeadLetter;
        printAnswer({ status: 200, body: { ...letter, data: undefined, envelopeText: Buffer.from(letter.data, 'base64').toString('utf8') } });
      } else printAnswer(answer);
    });
  addRuntimeOptions(dlq.command('replay').description('put a dead letter back through a fresh actor, keeping its correlation').argument('<id>'))
    .action(async (id: string, flags: RuntimeFlags) => printAnswer(await callRuntime(await connectionOf(flags), 'POST', `/dead-letters/${idOf(id)}/replay`)));
  addRuntimeOptions(dlq.command('purge').description('delete one dead letter, or with --all every one').argument('[id]'))
    .option('--all', 'delete every dead letter')
    .action(async (id: string | undefined, flags: RuntimeFlags & { all?: boolean }) => {
      if ((id === undefined) === !flags.all) throw new CliUsageError('give a dead letter id, or --all');
      const path = id === undefined ? '/dead-letters' : `/dead-letters/${idOf(id)}`;
      printAnswer(await callRuntime(await connectionOf(flags), 'DELETE', path));
    });
}
