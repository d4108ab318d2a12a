/**
 * Workflow machines shared by a test and the runtimes it starts in child processes
 * (`workflow-process.ts`): the same module on both sides, so the same machine versions.
 *
 * - `lifecycle`: waits for an event, waits on a delay, runs an activity, waits for an event
 *   again, ends. Its activity appends a line per start and per end of a run to a file.
 * - `alarm`: one `after` delay, counted in the context.
 * - `tally`: a counter whose context records which sender each increment came from.
 */
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { assign, setup, type AnyStateMachine } from 'xstate';
import { activity } from '../../src/workflows/activity.ts';
import type { WorkflowOptions } from '../../src/workflows/workflow-types.ts';

/** One line of an activity's run log. */
export interface ActivityRun {
  readonly phase: 'start' | 'end';
  readonly workflowId: string;
  readonly key: string;
  readonly attempt: number;
  readonly pid: number;
  readonly at: number;
}

/** The runs an activity logged to `path` (none when the file does not exist). */
export function readRuns(path: string, workflowId?: string): ActivityRun[] {
  if (!existsSync(path)) return [];
  const runs = readFileSync(path, 'utf8')
    .split('\n')
    .filter((line) => line.length > 0)
    .map((line) => JSON.parse(line) as ActivityRun);
  return workflowId === undefined ? runs : runs.filter((r) => r.workflowId === workflowId);
}

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => {
      clearTimeout(timer);
      reject(new Error('aborted'));
    });
  });

/** A slow side effect: logs its start, waits `ms`, logs its end (one `appendFileSync` per line). */
export const charge = activity<{ key: string; pid: number }, { log: string; ms: number }>(async ({ input, workflowId, idempotencyKey, attempt, signal }) => {
  const line = (phase: ActivityRun['phase']) =>
    appendFileSync(input.log, `${JSON.stringify({ phase, workflowId, key: idempotencyKey, attempt, pid: process.pid, at: Date.now() } satisfies ActivityRun)}\n`);
  line('start');
  await sleep(input.ms, signal);
  line('end');
  return { key: idempotencyKey, pid: process.pid };
});

export interface LifecycleInput {
  /** The file the activity logs its runs to. */
  readonly log: string;
  /** The `after` delay of `cooling`. */
  readonly coolMs: number;
  /** How long the activity of `charging` runs. */
  readonly slowMs: number;
}

export interface LifecycleContext extends LifecycleInput {
  approvals: number;
  cooled: number;
  receipt: { key: string; pid: number } | null;
  shipments: number;
}

export const lifecycle = setup({
  types: { context: {} as LifecycleContext, input: {} as LifecycleInput, events: {} as { type: 'approve' } | { type: 'ship' } },
  actors: { charge },
  delays: { cool: ({ context }) => context.coolMs },
}).createMachine({
  id: 'lifecycle',
  context: ({ input }) => ({ ...input, approvals: 0, cooled: 0, receipt: null, shipments: 0 }),
  initial: 'awaitingApproval',
  states: {
    // Waits for an event.
    awaitingApproval: { on: { approve: { target: 'cooling', actions: assign({ approvals: ({ context }) => context.approvals + 1 }) } } },
    // Waits on a delay.
    cooling: { after: { cool: { target: 'charging', actions: assign({ cooled: ({ context }) => context.cooled + 1 }) } } },
    // Runs an activity.
    charging: {
      invoke: {
        id: 'charge',
        src: 'charge',
        input: ({ context }) => ({ log: context.log, ms: context.slowMs }),
        onDone: { target: 'packed', actions: assign({ receipt: ({ event }) => event.output }) },
      },
    },
    // Waits for an event again, after the activity.
    packed: { on: { ship: { target: 'shipped', actions: assign({ shipments: ({ context }) => context.shipments + 1 }) } } },
    shipped: { type: 'final' },
  },
  output: ({ context }) => ({ receipt: context.receipt }),
});

export const alarm = setup({
  types: { context: {} as { delayMs: number; rings: number }, input: {} as { delayMs: number }, events: {} as { type: 'stop' } },
  delays: { alarm: ({ context }) => context.delayMs },
}).createMachine({
  id: 'alarm',
  context: ({ input }) => ({ delayMs: input.delayMs, rings: 0 }),
  initial: 'armed',
  states: {
    armed: { after: { alarm: { target: 'ringing', actions: assign({ rings: ({ context }) => context.rings + 1 }) } } },
    ringing: { on: { stop: 'stopped' } },
    stopped: { type: 'final' },
  },
});

export const tally = setup({
  types: { context: {} as { count: number; order: string }, events: {} as { type: 'inc'; by: string } },
}).createMachine({
  id: 'tally',
  context: { count: 0, order: '' },
  initial: 'counting',
  states: {
    counting: { on: { inc: { actions: assign({ count: ({ context }) => context.count + 1, order: ({ context, event }) => context.order + event.by }) } } },
  },
});

/** Every step of a race is kept in the history (the default keeps 100). */
export const TALLY_HISTORY_LIMIT = 2_000;

/** What both sides register. */
export const workflowMachines: readonly { readonly machine: AnyStateMachine; readonly options?: WorkflowOptions }[] = [
  { machine: lifecycle },
  { machine: alarm },
  { machine: tally, options: { historyLimit: TALLY_HISTORY_LIMIT } },
];
