import type { Command } from 'commander';
import type { WorkflowInfo } from '../workflows/workflow-types.ts';
import { CliUsageError } from './io.ts';
import { addRuntimeOptions, callRuntime, connectionOf, printAnswer, type RuntimeFlags } from './runtime-client.ts';

function parseJson(raw: string, what: string): unknown {
  try {
    return JSON.parse(raw) as unknown;
  } catch (cause) {
    throw new CliUsageError(`${what} is not JSON: ${cause instanceof Error ? cause.message : String(cause)}`, `e.g. '{"sku":"book"}' (quote it for the shell)`);
  }
}

const path = (id: string) => `/workflows/${encodeURIComponent(id)}`;
const stateText = (state: unknown) => (typeof state === 'string' ? state : JSON.stringify(state));

/** `mailroom workflows list | show | start | send | cancel | resume`: the durable workflows of a running runtime. */
export function registerWorkflowsCommand(program: Command): void {
  const workflows = program
    .command('workflows')
    .description('list, show, start, signal, cancel and resume durable workflows')
    .addHelpText('after', '\nExamples:\n  mailroom workflows list --status running\n  mailroom workflows start order --input \'{"sku":"book","amount":12}\' --id order-1\n  mailroom workflows send order-1 \'{"type":"customer.note","text":"gift wrap"}\'\n  mailroom workflows show order-1\n');
  addRuntimeOptions(workflows.command('list').description('workflows, one line each (newest first)'))
    .option('--status <status>', 'running, done, failed, cancelled or parked')
    .option('--name <name>', 'a workflow kind')
    .option('--state <state>', 'a state (e.g. charging, or payment.waiting)')
    .option('--json', 'print JSON')
    .action(async (flags: RuntimeFlags & { status?: string; name?: string; state?: string; json?: boolean }) => {
      const query = new URLSearchParams();
      for (const key of ['status', 'name', 'state'] as const) if (flags[key]) query.set(key, flags[key]);
      const answer = await callRuntime(await connectionOf(flags), 'GET', `/workflows${query.size ? `?${query}` : ''}`);
      if (flags.json || answer.status !== 200) return printAnswer(answer);
      const list = (answer.body as { workflows: (Pick<WorkflowInfo, 'id' | 'name' | 'status' | 'state' | 'seq' | 'updatedAt'> & { lastEvent?: string })[] }).workflows;
      if (list.length === 0) process.stdout.write('no workflows\n');
      for (const w of list) {
        process.stdout.write(`${w.id}  ${w.name}  ${w.status.padEnd(9)} ${stateText(w.state).padEnd(16)} step ${w.seq}  ${new Date(w.updatedAt).toISOString()}${w.lastEvent ? `  after ${w.lastEvent}` : ''}\n`);
      }
    });
  addRuntimeOptions(workflows.command('show').description('one workflow: status, state, context, history, activities, timers').argument('<id>'))
    .action(async (id: string, flags: RuntimeFlags) => printAnswer(await callRuntime(await connectionOf(flags), 'GET', path(id))));
  addRuntimeOptions(workflows.command('start').description('start a workflow of a registered kind').argument('<name>', 'the workflow kind'))
    .option('--input <json>', 'its input, as JSON')
    .option('--id <id>', 'its ID (default: a random UUID)')
    .action(async (name: string, flags: RuntimeFlags & { input?: string; id?: string }) => {
      const body = { name, ...(flags.input !== undefined ? { input: parseJson(flags.input, '--input') } : {}), ...(flags.id ? { id: flags.id } : {}) };
      printAnswer(await callRuntime(await connectionOf(flags), 'POST', '/workflows', body));
    });
  addRuntimeOptions(workflows.command('send').description('send an event to a workflow').argument('<id>').argument('<event>', 'the event as JSON ({"type":"..."}), or just its type'))
    .action(async (id: string, event: string, flags: RuntimeFlags) => {
      const parsed = event.trimStart().startsWith('{') ? parseJson(event, 'the event') : { type: event };
      printAnswer(await callRuntime(await connectionOf(flags), 'POST', `${path(id)}/events`, parsed));
    });
  addRuntimeOptions(workflows.command('cancel').description('end a running or parked workflow as cancelled').argument('<id>'))
    .option('--reason <text>', 'why (kept in the workflow)')
    .action(async (id: string, flags: RuntimeFlags & { reason?: string }) =>
      printAnswer(await callRuntime(await connectionOf(flags), 'POST', `${path(id)}/cancel`, flags.reason ? { reason: flags.reason } : {})),
    );
  addRuntimeOptions(workflows.command('resume').description('run a parked workflow again with the definitions registered now').argument('<id>'))
    .action(async (id: string, flags: RuntimeFlags) => printAnswer(await callRuntime(await connectionOf(flags), 'POST', `${path(id)}/resume`, {})));
}
