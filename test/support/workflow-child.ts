/** Starts `workflow-process.ts` in a child process, waits for its `ready` line, and calls it. */
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { WorkflowEvent, WorkflowInfo } from '../../src/workflows/workflow-types.ts';

const script = fileURLToPath(new URL('./workflow-process.ts', import.meta.url));
const root = fileURLToPath(new URL('../../', import.meta.url));

/** An error the child's workflow API threw, by its name (`_tag` for Mailroom errors). */
export class ChildCallError extends Error {
  constructor(
    readonly errorName: string,
    message: string,
  ) {
    super(message);
    this.name = errorName;
  }
}

export interface WorkflowChild {
  readonly pid: number;
  /** `Date.now()` when the child printed `ready` (its runtime, timer worker included, had started). */
  readonly readyAt: number;
  readonly child: ChildProcess;
  start(name: string, input: unknown, id: string): Promise<WorkflowInfo>;
  send(id: string, event: WorkflowEvent): Promise<WorkflowInfo>;
  get(id: string): Promise<WorkflowInfo | undefined>;
  /** From `startAt` (epoch ms) on, sends `count` events one after the other. */
  sendMany(id: string, event: WorkflowEvent, count: number, startAt: number): Promise<{ sent: number; errors: string[] }>;
  /** What the child wrote to stderr (runtime errors). */
  stderr(): string;
  /** Resolves when the process has exited. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Sends the signal (default SIGKILL) and waits for the process to exit. */
  kill(signal?: NodeJS.Signals): Promise<void>;
}

export interface WorkflowChildSpec {
  readonly input: Record<string, unknown>;
  readonly dir: string;
  /** The child SIGKILLs itself right after storing a step on this event. */
  readonly dieOn?: { readonly id?: string; readonly event: string };
}

let counter = 0;

export async function startWorkflowChild(spec: WorkflowChildSpec, name = 'workflows'): Promise<WorkflowChild> {
  const specPath = join(spec.dir, `${name}-${process.pid}-${++counter}.json`);
  await writeFile(specPath, JSON.stringify(spec));
  // One process: tsx's loader in this node, so a signal reaches the runtime itself.
  const child = spawn(process.execPath, ['--import', 'tsx/esm', script, specPath], { cwd: root, stdio: ['pipe', 'pipe', 'pipe'] });
  // A call written as the process dies: the answer is the exit, not an EPIPE thrown here.
  child.stdin!.on('error', () => undefined);
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => {
      for (const call of pending.values()) call.reject(new Error(`the workflow process exited (${signal ?? code}) before answering`));
      pending.clear();
      resolve({ code, signal });
    }),
  );
  const ready = new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the workflow process did not get ready: ${stderr}`)), 30_000);
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`the workflow process exited (${signal ?? code}) before it was ready: ${stderr}`));
    });
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (line.startsWith('ready ')) {
        clearTimeout(timer);
        resolve(Date.now());
      } else if (line.startsWith('@rpc ')) {
        const answer = JSON.parse(line.slice(5)) as { n: number; ok: boolean; result?: unknown; error?: { name: string; message: string } };
        const call = pending.get(answer.n);
        pending.delete(answer.n);
        if (answer.ok) call?.resolve(answer.result ?? undefined);
        else call?.reject(new ChildCallError(answer.error!.name, answer.error!.message));
      }
    });
  });
  let readyAt: number;
  try {
    readyAt = await ready;
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  }
  let n = 0;
  const call = <T>(op: string, ...args: unknown[]): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      if (child.exitCode !== null || child.signalCode !== null) {
        reject(new Error('the workflow process has exited'));
        return;
      }
      const id = ++n;
      pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
      child.stdin!.write(`${JSON.stringify({ n: id, op, args })}\n`);
    });
  return {
    pid: child.pid!,
    readyAt,
    child,
    start: (workflow, input, id) => call('start', workflow, input, id),
    send: (id, event) => call('send', id, event),
    get: (id) => call('get', id),
    sendMany: (id, event, count, startAt) => call('sendMany', id, event, count, startAt),
    stderr: () => stderr,
    exited,
    kill: async (signal = 'SIGKILL') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
  };
}
