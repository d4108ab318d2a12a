import type { Command } from 'commander';
import type { WorkflowInfo } from '../workflows/workflow-types.ts';
import { CliUsageError } from './io.ts';
import { confirmDestructive, type ForceFlags } from './confirm.ts';
import { out, printFields, timeText } from './output.ts';
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

type WorkflowLine = Pick<WorkflowInfo, 'id' | 'name' | 'status' | 'state' | 'seq' | 'updatedAt'> & { lastEvent?: string };

/** One workflow as readable lines. */
function printWorkflow(w: WorkflowInfo): void {
  printFields([
    ['workflow', `${w.id} (${w.name} version ${w.version})`],
    ['status', w.status],
    ['state', stateText(w.state)],
    ['step', String(w.seq)],
    ['error', w.error ? `${w.error.name}: ${w.error.message}` : undefined],
    ['parked', w.parked ? `${w.parked.reason}${w.parked.event ? ` (on ${w.parked.event.type})` : ''}` : undefined],
    ['output', w.output],
    ['context', w.context],
    ['created', timeText(w.createdAt)],
    ['updated', timeText(w.updatedAt)],
  ]);
  if (w.activities?.length) {
    out('activities:\n');
    for (const a of w.activities) out(`  ${a.id}  ${a.kind} ${a.src} since ${timeText(a.startedAt)}\n`);
  }
  if (w.timers?.length) {
    out('timers:\n');
    // A delayed transition's timer is named by its event: print the name once.
    for (const t of w.timers) out(`  ${t.id === t.event ? t.id : `${t.id}  ${t.event}`} at ${timeText(t.due)}\n`);
  }
  if (w.history?.length) {
    out('history:\n');
    for (const h of w.history) out(`  ${String(h.seq).padStart(4)}  ${timeText(h.at)}  ${h.event} → ${stateText(h.state)}\n`);
  }
}

/** The answer of start, send, cancel or resume: the workflow it left. */
const printChange = (verb: string) => (body: Partial<WorkflowInfo> & { id?: string }) =>
  out(`${verb} ${body.id ?? ''}${body.status ? `: ${body.status}` : ''}${body.state !== undefined ? `, in ${stateText(body.state)}` : ''}\n`);

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
    .action(async (flags: RuntimeFlags & { status?: string; name?: string; state?: string }) => {
      const query = new URLSearchParams();
      for (const key of ['status', 'name', 'state'] as const) if (flags[key]) query.set(key, flags[key]);
      const answer = await callRuntime(await connectionOf(flags), 'GET', `/workflows${query.size ? `?${query}` : ''}`);
      printAnswer(answer, flags, (body: { workflows: WorkflowLine[] }) => {
        if (body.workflows.length === 0) out('no workflows\n');
        for (const w of body.workflows) {
          out(`${w.id}  ${w.name}  ${w.status.padEnd(9)} ${stateText(w.state).padEnd(16)} step ${w.seq}  ${timeText(w.updatedAt)}${w.lastEvent ? `  after ${w.lastEvent}` : ''}\n`);
        }
      });
    });
  addRuntimeOptions(workflows.command('show').description('one workflow: status, state, context, history, activities, timers').argument('<id>'))
    .action(async (id: string, flags: RuntimeFlags) => printAnswer(await callRuntime(await connectionOf(flags), 'GET', path(id)), flags, printWorkflow));
  addRuntimeOptions(workflows.command('start').description('start a workflow of a registered kind').argument('<name>', 'the workflow kind'))
    .option('--input <json>', 'its input, as JSON')
    .option('--id <id>', 'its ID (default: a random UUID)')
    .action(async (name: string, flags: RuntimeFlags & { input?: string; id?: string }) => {
      const body = { name, ...(flags.input !== undefined ? { input: parseJson(flags.input, '--input') } : {}), ...(flags.id ? { id: flags.id } : {}) };
      printAnswer(await callRuntime(await connectionOf(flags), 'POST', '/workflows', body), flags, printChange('started'));
    });
  addRuntimeOptions(workflows.command('send').description('send an event to a workflow').argument('<id>').argument('<event>', 'the event as JSON ({"type":"..."}), or just its type'))
    .action(async (id: string, event: string, flags: RuntimeFlags) => {
      const parsed = event.trimStart().startsWith('{') ? parseJson(event, 'the event') : { type: event };
      printAnswer(await callRuntime(await connectionOf(flags), 'POST', `${path(id)}/events`, parsed), flags, printChange('sent to'));
    });
  addRuntimeOptions(workflows.command('cancel').description('end a running or parked workflow as cancelled (asks first on a terminal)').argument('<id>'))
    .option('--reason <text>', 'why (kept in the workflow)')
    .option('-f, --force', 'do not ask')
    .action(async (id: string, flags: RuntimeFlags & ForceFlags & { reason?: string }) => {
      const connection = await connectionOf(flags);
      await confirmDestructive(`Cancel workflow ${id}? It cannot be resumed afterwards.`, flags, `cancel workflow ${id}`);
      printAnswer(await callRuntime(connection, 'POST', `${path(id)}/cancel`, flags.reason ? { reason: flags.reason } : {}), flags, printChange('cancelled'));
    });
  addRuntimeOptions(workflows.command('resume').description('run a parked workflow again with the definitions registered now').argument('<id>'))
    .action(async (id: string, flags: RuntimeFlags) => printAnswer(await callRuntime(await connectionOf(flags), 'POST', `${path(id)}/resume`, {}), flags, printChange('resumed')));
}
