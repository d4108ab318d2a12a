import type { Command } from 'commander';
import type { EnvelopeStatus } from '../runtime/status-store.ts';
import { out, printFields } from './output.ts';
import { addRuntimeOptions, callRuntime, connectionOf, printAnswer, type RuntimeFlags } from './runtime-client.ts';

/** An envelope's status as readable lines: where it is, why, then its history. */
export function printStatus(status: EnvelopeStatus): void {
  printFields([
    ['envelope', `${status.from} → ${status.to} ${status.subject}`],
    ['correlation', status.correlation],
    ['state', `${status.state}${status.final ? ' (final)' : ''}`],
    ['attempt', status.attempt > 1 ? String(status.attempt) : undefined],
    ['discarded', status.discard ? `${status.discard.reason}${status.discard.field ? ` (${status.discard.field})` : ''}: ${status.discard.detail}` : undefined],
    ['dead letter', status.deadLetter ? `${status.deadLetter.reason} in ${status.deadLetter.lastState}${status.deadLetter.lastReason ? ` (${status.deadLetter.lastReason})` : ''}: ${status.deadLetter.detail}` : undefined],
    ['last error', status.error ? `${status.error.reason ? `${status.error.reason}: ` : ''}${status.error.message}` : undefined],
    ['retry in', status.retryDelayMs !== undefined ? `${status.retryDelayMs} ms` : undefined],
    ['reply', status.replySubject ? `${status.replySubject} (correlation ${status.replyCorrelation ?? '?'})` : undefined],
    ['feedback', status.feedback],
    ['body', status.body],
    ['updated', status.updatedAt],
  ]);
  if (status.history.length) {
    out('history:\n');
    for (const step of status.history) out(`  ${step.at}  ${step.state}${step.by ? ` (by ${step.by})` : ''}\n`);
  }
}

/** `mailroom status FROM CORRELATION`: the state and history of one envelope. */
export function registerStatusCommand(program: Command): void {
  addRuntimeOptions(program.command('status').description('show the state, history and outcome of one envelope'))
    .argument('<from>', 'the sender of the envelope')
    .argument('<correlation>', 'its correlation ID')
    .addHelpText('after', '\nExample:\n  mailroom status orders.example 0f6c1e0a-6f0e-4a43-9f7a-2d1f3b0c9e11 --json\n')
    .action(async (from: string, correlation: string, flags: RuntimeFlags) => {
      printAnswer(await callRuntime(await connectionOf(flags), 'GET', `/envelopes/${encodeURIComponent(from)}/${encodeURIComponent(correlation)}`), flags, printStatus);
    });
}
