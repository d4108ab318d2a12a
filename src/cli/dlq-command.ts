import { createWriteStream } from 'node:fs';
import type { Command } from 'commander';
import type { DeadLetter } from '../runtime/dead-letter-store.ts';
import { confirmDestructive, type ForceFlags } from './confirm.ts';
import { CliUsageError } from './io.ts';
import { jsonText, out, printFields, printJson } from './output.ts';
import { startProgress } from './progress.ts';
import { addRuntimeOptions, callRuntime, connectionOf, printAnswer, printProblem, type RuntimeConnection, type RuntimeFlags } from './runtime-client.ts';

function idOf(raw: string): number {
  const id = Number(raw);
  if (!Number.isSafeInteger(id) || id <= 0) throw new CliUsageError(`a dead letter id is a positive integer (see mailroom dlq list), not ${JSON.stringify(raw)}`);
  return id;
}

/** The route answers at most this many per call; more are read page by page (its `next` cursor). */
const PAGE = 500;

/** Up to `limit` dead letters, newest first, following the route's cursor; `[]` after printing a problem. */
async function listLetters(connection: RuntimeConnection, limit: number): Promise<DeadLetter[]> {
  const letters: DeadLetter[] = [];
  let cursor: string | undefined;
  while (letters.length < limit) {
    const query = `limit=${Math.min(limit - letters.length, PAGE)}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
    const answer = await callRuntime(connection, 'GET', `/dead-letters?${query}`);
    if (answer.status !== 200) {
      printProblem(answer);
      return [];
    }
    const page = answer.body as { deadLetters: DeadLetter[]; next?: string };
    letters.push(...page.deadLetters);
    if (!page.next) break;
    cursor = page.next;
  }
  return letters;
}

function letterLine(l: DeadLetter): string {
  const e = l.envelope;
  return `${String(l.id).padStart(6)}  ${l.deadLetteredAt}  ${l.reason.padEnd(12)} ${l.lastState.padEnd(12)} ${e.from ?? '?'} → ${e.to ?? '?'} ${e.subject ?? '?'} ${e.correlation ?? ''}  (${l.attempts} attempts: ${l.detail})\n`;
}

function printLetter(letter: DeadLetter): void {
  const e = letter.envelope;
  printFields([
    ['dead letter', String(letter.id)],
    ['envelope', `${e.from ?? '?'} → ${e.to ?? '?'} ${e.subject ?? '?'}`],
    ['correlation', e.correlation],
    ['reason', letter.reason],
    ['last state', letter.lastState],
    ['last reason', letter.lastReason],
    ['detail', letter.detail],
    ['attempts', String(letter.attempts)],
    ['dead-lettered', letter.deadLetteredAt],
    ['stored', `${letter.stream} #${letter.streamSequence} (${letter.subject})`],
  ]);
  if (letter.history.length) {
    out('history:\n');
    for (const step of letter.history) out(`  ${step.at}  ${step.state}${step.by ? ` (by ${step.by})` : ''}\n`);
  }
  out(`envelope text:\n${Buffer.from(letter.data, 'base64').toString('utf8')}\n`);
  out(`\nreplay it: mailroom dlq replay ${letter.id}\n`);
}

interface BulkFlags extends RuntimeFlags, ForceFlags {
  all?: boolean;
}

/** The ids a bulk command acts on: those given, or with `--all` every listed one. */
async function idsOf(ids: readonly string[], flags: BulkFlags, connection: RuntimeConnection): Promise<number[]> {
  if ((ids.length === 0) === !flags.all) throw new CliUsageError('give one or more dead letter ids, or --all');
  if (!flags.all) return ids.map(idOf);
  return (await listLetters(connection, Number.MAX_SAFE_INTEGER)).map((l) => l.id).reverse();
}

/** Runs `act` on each id, with a progress bar on a terminal; prints one line (or JSON) per id. */
async function eachId(ids: readonly number[], label: string, flags: RuntimeFlags, act: (id: number) => Promise<{ ok: boolean; line: string; json: unknown }>): Promise<void> {
  const progress = ids.length > 1 ? await startProgress(label, ids.length, flags) : undefined;
  const results: unknown[] = [];
  const lines: string[] = [];
  let failed = 0;
  try {
    for (const id of ids) {
      const result = await act(id);
      if (!result.ok) failed++;
      results.push(result.json);
      lines.push(result.line);
      progress?.tick(`#${id}`);
    }
  } finally {
    progress?.stop();
  }
  if (flags.json) printJson(ids.length === 1 && results.length === 1 ? results[0] : { results });
  else for (const line of lines) out(`${line}\n`);
  if (failed > 0) process.exitCode = 1;
}

/** `mailroom dlq list | show | replay | purge | export`: the dead letters of a running runtime. */
export function registerDlqCommand(program: Command): void {
  const dlq = program
    .command('dlq')
    .description('list, show, replay, purge and export dead letters')
    .addHelpText('after', '\nExamples:\n  mailroom dlq list\n  mailroom dlq show 12\n  mailroom dlq replay 12\n  mailroom dlq replay --all --force\n  mailroom dlq export --out dead-letters.jsonl\n  mailroom dlq purge 12 13\n');
  addRuntimeOptions(dlq.command('list').description('the newest dead letters, one line each'))
    .option('--limit <n>', 'how many, newest first', '50')
    .action(async (flags: RuntimeFlags & { limit: string }) => {
      const limit = Number(flags.limit);
      if (!Number.isSafeInteger(limit) || limit <= 0) throw new CliUsageError(`--limit takes a positive integer, not ${JSON.stringify(flags.limit)}`);
      const letters = await listLetters(await connectionOf(flags), limit);
      if (process.exitCode === 1) return;
      if (flags.json) return printJson({ deadLetters: letters });
      if (letters.length === 0) out('no dead letters\n');
      for (const l of letters) out(letterLine(l));
    });
  addRuntimeOptions(dlq.command('show').description('one dead letter: reason, last state, attempts, history, the envelope').argument('<id>'))
    .action(async (id: string, flags: RuntimeFlags) => {
      const answer = await callRuntime(await connectionOf(flags), 'GET', `/dead-letters/${idOf(id)}`);
      if (flags.json && answer.status === 200) {
        const letter = answer.body as DeadLetter;
        return printJson({ ...letter, data: undefined, envelopeText: Buffer.from(letter.data, 'base64').toString('utf8') });
      }
      printAnswer(answer, flags, printLetter);
    });
  addRuntimeOptions(
    dlq
      .command('replay')
      .description('put dead letters back through a fresh actor each, keeping their correlation')
      .argument('[ids...]', 'dead letter ids (mailroom dlq list)'),
  )
    .option('--all', 'replay every dead letter, oldest first')
    .option('-f, --force', 'with --all: do not ask')
    .action(async (ids: string[], flags: BulkFlags) => {
      const connection = await connectionOf(flags);
      const chosen = await idsOf(ids, flags, connection);
      if (chosen.length === 0) return flags.json ? printJson({ results: [] }) : out('no dead letters\n');
      if (flags.all) await confirmDestructive(`Replay all ${chosen.length} dead letters (their handlers run again)?`, flags, `replay ${chosen.length} dead letters`);
      await eachId(chosen, 'replaying', flags, async (id) => {
        const answer = await callRuntime(connection, 'POST', `/dead-letters/${id}/replay`);
        const ok = answer.status === 202;
        const body = answer.body as { subject?: string; sequence?: number; detail?: string };
        return { ok, json: { id, status: answer.status, ...(typeof body === 'object' ? body : { detail: body }) }, line: ok ? `replayed ${id}: a fresh attempt with the same correlation (mailroom status FROM CORRELATION shows its outcome)` : `not replayed ${id}: ${answer.status} ${body.detail ?? jsonText(body)}` };
      });
    });
  addRuntimeOptions(dlq.command('purge').description('delete dead letters for good: the ids given, or with --all every one').argument('[ids...]', 'dead letter ids'))
    .option('--all', 'delete every dead letter')
    .option('-f, --force', 'do not ask')
    .action(async (ids: string[], flags: BulkFlags) => {
      if ((ids.length === 0) === !flags.all) throw new CliUsageError('give one or more dead letter ids, or --all');
      const connection = await connectionOf(flags);
      if (flags.all) {
        await confirmDestructive('Delete EVERY dead letter? They cannot be replayed afterwards.', flags, 'purge every dead letter');
        const answer = await callRuntime(connection, 'DELETE', '/dead-letters');
        return printAnswer(answer, flags, (body: { purged: number }) => out(`purged ${body.purged} dead letter${body.purged === 1 ? '' : 's'}\n`));
      }
      const chosen = ids.map(idOf);
      await confirmDestructive(`Delete dead letter${chosen.length === 1 ? '' : 's'} ${chosen.join(', ')}? ${chosen.length === 1 ? 'It' : 'They'} cannot be replayed afterwards.`, flags, `purge ${chosen.length === 1 ? `dead letter ${chosen[0]}` : `${chosen.length} dead letters`}`);
      await eachId(chosen, 'purging', flags, async (id) => {
        const answer = await callRuntime(connection, 'DELETE', `/dead-letters/${id}`);
        const ok = answer.status === 200;
        return { ok, json: { id, status: answer.status, ...(answer.body as object) }, line: ok ? `purged ${id}` : `not purged ${id}: ${answer.status} ${(answer.body as { detail?: string }).detail ?? ''}` };
      });
    });
  addRuntimeOptions(dlq.command('export').description('write dead letters as JSON lines (each with its envelope text), for an archive or another runtime'))
    .option('--out <file>', 'the file to write (default: standard output)')
    .option('--limit <n>', 'how many, newest first', '1000')
    .action(async (flags: RuntimeFlags & { out?: string; limit: string }) => {
      const limit = Number(flags.limit);
      if (!Number.isSafeInteger(limit) || limit <= 0) throw new CliUsageError(`--limit takes a positive integer, not ${JSON.stringify(flags.limit)}`);
      const connection = await connectionOf(flags);
      const letters = await listLetters(connection, limit);
      if (process.exitCode === 1) return;
      let exported = 0;
      const sink = flags.out ? createWriteStream(flags.out, { mode: 0o600 }) : undefined;
      const write = (line: string) => (sink ? new Promise<void>((resolve, reject) => sink.write(line, (e) => (e ? reject(e) : resolve()))) : Promise.resolve(out(line)));
      const progress = sink ? await startProgress('exporting', letters.length, flags) : undefined;
      try {
        // The list leaves out the envelope bytes: each letter is read whole.
        for (const listed of letters) {
          const answer = await callRuntime(connection, 'GET', `/dead-letters/${listed.id}`);
          progress?.tick(`#${listed.id}`);
          if (answer.status === 404) continue; // purged or replayed meanwhile
          if (answer.status !== 200) {
            printProblem(answer);
            return;
          }
          const letter = answer.body as DeadLetter;
          await write(`${jsonText({ ...letter, data: undefined, envelopeText: Buffer.from(letter.data, 'base64').toString('utf8') })}\n`);
          exported += 1;
        }
      } finally {
        progress?.stop();
        if (sink) await new Promise<void>((resolve) => sink.end(resolve));
      }
      if (flags.out) process.stderr.write(`exported ${exported} dead letter${exported === 1 ? '' : 's'} to ${flags.out}\n`);
    });
}
