/**
 * Starts `runtime-child.ts` in its own Node process (one process, so a SIGKILL hits the
 * runtime itself and not a wrapper) and follows its stdout lines. The child runs as plain
 * JavaScript, bundled with esbuild (`bundle.ts`), as a deployed runtime would; with
 * `BENCH_TSX=1` it runs through the tsx loader instead (~65 MB more RSS, slower start).
 * It runs with the Node flags of `mailroom start` ({@link runtimeNodeFlags}).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ChildSpec } from './runtime-child.ts';
import { pollUntil, trackChild } from './support.ts';
import { bundleScript } from './bundle.ts';
import { runtimeNodeFlags } from '../src/cli/node-flags.ts';

const script = fileURLToPath(new URL('./runtime-child.ts', import.meta.url));
const tsxLoader = new URL('../node_modules/tsx/dist/loader.mjs', import.meta.url).href;

export interface RuntimeChild {
  readonly pid: number;
  readonly child: ChildProcess;
  /** The HTTP URL from the `ready` line (`-` without HTTP). */
  readonly url: string;
  /** The last `settled <n>` the child printed. */
  settled(): number;
  /** The last stdout line so far that matches `pattern`. */
  latest(pattern: RegExp): RegExpExecArray | undefined;
  /** Waits for a stdout line matching `pattern` (from the start of the output). */
  line(pattern: RegExp, timeoutMs: number): Promise<RegExpExecArray>;
  /** Sends the signal (default SIGKILL) and waits for the process to exit. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** SIGTERM, then SIGKILL after `timeoutMs`. */
  stop(timeoutMs?: number): Promise<void>;
}

export async function startRuntimeChild(spec: ChildSpec, name: string, options: { exposeGc?: boolean; readyTimeoutMs?: number } = {}): Promise<RuntimeChild> {
  const specPath = join(spec.dir, `${name}-${process.hrtime.bigint()}.json`);
  await writeFile(specPath, JSON.stringify(spec));
  // BENCH_CPU_PROF=<dir>: the child writes a V8 CPU profile there when it exits (see bench/profile-summary.ts).
  const profile = process.env.BENCH_CPU_PROF ? ['--cpu-prof', '--cpu-prof-dir', process.env.BENCH_CPU_PROF] : [];
  const entry = process.env.BENCH_TSX === '1' ? ['--import', tsxLoader, script] : [await bundleScript(script)];
  // The flags `mailroom start` runs the runtime with (the shebang of bin/mailroom.js), so the figures are what users get; BENCH_NODE_FLAGS=0 leaves them out.
  const flags = process.env.BENCH_NODE_FLAGS === '0' ? [] : runtimeNodeFlags();
  const args = [...flags, ...(options.exposeGc ? ['--expose-gc'] : []), ...profile, ...entry, specPath];
  const child = trackChild(spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] }));
  const lines: string[] = [];
  let rest = '';
  let stderr = '';
  let settled = 0;
  child.stdout!.setEncoding('utf8');
  child.stdout!.on('data', (chunk: string) => {
    const parts = (rest + chunk).split('\n');
    rest = parts.pop() ?? '';
    for (const line of parts) {
      lines.push(line);
      const m = /^settled (\d+)/.exec(line);
      if (m) settled = Number(m[1]);
    }
  });
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
    // BENCH_CHILD_STDERR=1: show the child's stderr (e.g. BENCH_HEAP_SPACES=1, the V8 heap spaces at each measurement).
    if (process.env.BENCH_CHILD_STDERR === '1') process.stderr.write(chunk);
  });
  let exitInfo: string | undefined;
  const exited = new Promise<void>((resolve) =>
    child.once('exit', (code, signal) => {
      exitInfo = signal ?? `code ${code}`;
      resolve();
    }),
  );
  const line = (pattern: RegExp, timeoutMs: number) =>
    pollUntil(
      () => {
        for (const l of lines) {
          const m = pattern.exec(l);
          if (m) return m;
        }
        const failed = lines.find((l) => l.startsWith('failed '));
        if (failed) throw new Error(`${name}: ${failed}`);
        if (exitInfo) throw new Error(`${name} exited (${exitInfo}) before printing ${pattern}: ${stderr.trim().slice(-1000)}`);
        return undefined;
      },
      { timeoutMs, intervalMs: 5, what: `${name} to print ${pattern}` },
    ).catch((error: Error) => {
      throw new Error(error.message.includes(name) ? error.message : `${error.message} (${name} stderr: ${stderr.trim().slice(-1000)})`);
    });
  const kill = async (signal: NodeJS.Signals = 'SIGKILL') => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    await exited;
  };
  let handle: RuntimeChild;
  try {
    const ready = await line(/^ready (\S+)/, options.readyTimeoutMs ?? 60_000);
    handle = {
      pid: child.pid!,
      child,
      url: ready[1]!,
      settled: () => settled,
      latest: (pattern) => {
        for (let i = lines.length - 1; i >= 0; i--) {
          const m = pattern.exec(lines[i]!);
          if (m) return m;
        }
        return undefined;
      },
      line,
      kill,
      stop: async (timeoutMs = 15_000) => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        child.kill('SIGTERM');
        let timer: NodeJS.Timeout | undefined;
        const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), timeoutMs)));
        const outcome = await Promise.race([exited, late]);
        clearTimeout(timer);
        if (outcome === 'late') await kill('SIGKILL');
      },
    };
  } catch (error) {
    await kill('SIGKILL');
    throw error;
  }
  return handle;
}
