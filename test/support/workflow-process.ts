/**
 * A Mailroom runtime running the workflows of `workflow-machines.ts` in its own process, for
 * tests that kill it (see `workflow-child.ts`). Reads a JSON spec `{ input, dir, dieOn? }`,
 * starts the runtime (no HTTP, no outbox worker), prints `ready <pid>`, then answers calls
 * given one JSON line at a time on stdin (`{ n, op, args }`) with `@rpc {"n","ok","result"|"error"}`
 * lines on stdout. With `dieOn`, it SIGKILLs itself right after it stored a step on that event:
 * after the step landed in KV, before the message that caused it is acked.
 *
 *   node --import tsx/esm test/support/workflow-process.ts <spec.json>
 */
import { readFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { parseConfig } from '../../src/config/index.ts';
import { startMailroom } from '../../src/mailroom/start-mailroom.ts';
import type { WorkflowEvent } from '../../src/workflows/workflow-types.ts';
import { workflowMachines } from './workflow-machines.ts';

interface Spec {
  input: Record<string, unknown>;
  dir: string;
  dieOn?: { id?: string; event: string };
}

const spec = JSON.parse(await readFile(process.argv[2]!, 'utf8')) as Spec;
const config = parseConfig(spec.input, { baseDir: spec.dir, env: {} });
const mailroom = await startMailroom(config, {
  http: false,
  outboxWorker: false,
  workflows: workflowMachines,
  onError: (error, context) => process.stderr.write(`mailroom: ${context}: ${error instanceof Error ? error.message : String(error)}\n`),
});
const dieOn = spec.dieOn;
if (dieOn) {
  mailroom.workflows.onChange((change) => {
    if (change.event === dieOn.event && (dieOn.id === undefined || change.id === dieOn.id)) process.kill(process.pid, 'SIGKILL');
  });
}

const ops: Record<string, (...args: never[]) => Promise<unknown>> = {
  start: (name: string, input: unknown, id: string) => mailroom.workflows.start(name, input, { id }),
  send: (id: string, event: WorkflowEvent) => mailroom.workflows.send(id, event),
  get: (id: string) => mailroom.workflows.get(id),
  /** From `startAt` (epoch ms) on, sends `count` events one after the other, as fast as the engine takes them; counts successes and errors. */
  sendMany: async (id: string, event: WorkflowEvent, count: number, startAt: number) => {
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, startAt - Date.now())));
    let sent = 0;
    const errors: string[] = [];
    for (let n = 0; n < count; n++) {
      try {
        await mailroom.workflows.send(id, event);
        sent++;
      } catch (error) {
        errors.push(error instanceof Error ? error.message : String(error));
      }
    }
    return { sent, errors };
  },
};

const reply = (line: Record<string, unknown>) => process.stdout.write(`@rpc ${JSON.stringify(line)}\n`);
createInterface({ input: process.stdin }).on('line', (line) => {
  const { n, op, args } = JSON.parse(line) as { n: number; op: string; args: never[] };
  const fn = ops[op];
  if (!fn) {
    reply({ n, ok: false, error: { name: 'Error', message: `no op ${op}` } });
    return;
  }
  fn(...args).then(
    (result) => reply({ n, ok: true, result: result ?? null }),
    (error: unknown) => reply({ n, ok: false, error: { name: error instanceof Error ? ((error as { _tag?: string })._tag ?? error.name) : 'Error', message: error instanceof Error ? error.message : String(error) } }),
  );
});
process.stdout.write(`ready ${process.pid}\n`);
process.once('SIGTERM', () => {
  void mailroom.stop().then(() => process.exit(0));
});
