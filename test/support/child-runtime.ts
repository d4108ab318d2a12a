/** Starts `runtime-process.ts` in a child process and waits for its `ready <url>` line. */
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const script = fileURLToPath(new URL('./runtime-process.ts', import.meta.url));
const root = fileURLToPath(new URL('../../', import.meta.url));

export interface ChildRuntime {
  readonly url: string;
  readonly pid: number;
  readonly child: ChildProcess;
  /** Sends the signal and waits for the process to exit. */
  kill(signal?: NodeJS.Signals): Promise<void>;
}

export async function startChildRuntime(spec: { input: Record<string, unknown>; dir: string; handlerDelayMs?: number; outboxWorker?: boolean; holdDir?: string }, name = 'runtime'): Promise<ChildRuntime> {
  const specPath = join(spec.dir, `${name}-${Date.now()}.json`);
  await writeFile(specPath, JSON.stringify(spec));
  // One process: tsx's loader in this node, not the tsx CLI (which runs the script in a second
  // node process, so a signal to the child would miss the runtime).
  const child = spawn(process.execPath, ['--import', 'tsx/esm', script, specPath], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`runtime did not get ready: ${stderr}`)), 30_000);
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const match = /ready (\S+)/.exec(out);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`runtime exited with ${code}: ${stderr}`));
    });
  });
  return {
    url,
    pid: child.pid!,
    child,
    kill: async (signal = 'SIGKILL') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
  };
}

/** One envelope a child runtime holds in its handler (see `holdDir` in runtime-process.ts). */
export interface Hold {
  readonly pid: number;
  readonly correlation: string;
  readonly attempt: number;
}

/** The envelopes held right now (and earlier) in `holdDir`, from their markers. */
export async function readHolds(holdDir: string): Promise<Hold[]> {
  const { readdir } = await import('node:fs/promises');
  return (await readdir(holdDir))
    .map((name) => /^(\d+)\.(.+)\.(\d+)$/.exec(name))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ pid: Number(m[1]), correlation: m[2]!, attempt: Number(m[3]) }));
}

/** Lets every held handler return. */
export async function releaseHolds(holdDir: string): Promise<void> {
  await writeFile(join(holdDir, 'release'), '');
}
