/**
 * Spawns a nats-server child process and waits until it is ready. Shared by the
 * embedded server (`mailroom start` without a NATS URL) and the test launcher.
 * @internal
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { NatsServerError } from '../errors.ts';

/** How to get a nats-server binary; the `hint` of a missing-binary `NatsServerError`. */
export const natsServerInstallHint = [
  'nats-server was not found. Install it, or run NATS in a container and point Mailroom at it:',
  '  Debian/Ubuntu: apt-get install nats-server',
  '  macOS:         brew install nats-server',
  '  container:     docker compose up -d   (uses the repo\'s docker-compose.yml), then NATS_URL=nats://127.0.0.1:4222',
].join('\n');

/** Options of {@link spawnNatsServer}. */
export interface SpawnNatsServerOptions {
  /** The executable (default `nats-server` on PATH). */
  readonly binary?: string;
  /** Command line arguments. Pass `-p -1` for a free port: the port is read from the log. */
  readonly args: readonly string[];
  readonly cwd?: string;
  /** How long to wait for "Server is ready" (default 15 s; JetStream recovery of a big store takes a while). */
  readonly readyTimeoutMs?: number;
  /**
   * Run the server in its own process group, so a terminal's Ctrl-C reaches only this
   * process, which then stops the server itself, last (default false).
   */
  readonly detached?: boolean;
  /** Signal sent to a server still running when this Node process exits (default `SIGTERM`). */
  readonly signalOnProcessExit?: NodeJS.Signals;
}

/** How a server process ended. */
export interface NatsServerExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/** A running nats-server child process. */
export interface NatsServerProcess {
  readonly pid: number;
  readonly host: string;
  readonly port: number;
  /** `nats://host:port` for clients. */
  readonly url: string;
  /** The version the server logged at start, e.g. `2.9.10`. */
  readonly version: string;
  /** Resolves when the process has exited. */
  readonly exited: Promise<NatsServerExit>;
  running(): boolean;
  /** The last log lines (stdout and stderr). */
  log(): readonly string[];
  /** Sends a signal; for a terminating one, resolves once the process is gone. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** SIGTERM (graceful), then SIGKILL after `timeoutMs` (default 10 s). Idempotent. */
  stop(timeoutMs?: number): Promise<void>;
}

const MAX_LOG_LINES = 500;
const TERMINATING: ReadonlySet<NodeJS.Signals> = new Set<NodeJS.Signals>(['SIGKILL', 'SIGTERM', 'SIGINT', 'SIGQUIT']);

const live = new Map<ChildProcess, NodeJS.Signals>();
let exitHookInstalled = false;

function killAllOnExit(): void {
  for (const [child, signal] of live) {
    try {
      child.kill(signal);
    } catch (_) {
      // The process is exiting; nothing else can be done.
    }
  }
}

function track(child: ChildProcess, signal: NodeJS.Signals): void {
  live.set(child, signal);
  child.once('exit', () => live.delete(child));
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on('exit', killAllOnExit);
  }
}

/** The log lines worth showing in an error: fatal and error lines, else the tail. */
export function summarizeLog(lines: readonly string[]): string {
  const important = lines.filter((l) => /\[(FTL|ERR)\]|^nats-server:|flag provided|error/i.test(l));
  const picked = important.length > 0 ? important.slice(-10) : lines.slice(-15);
  return picked.length > 0 ? `\n  ${picked.join('\n  ')}` : ' (no output)';
}

function clientHost(host: string): string {
  if (host === '0.0.0.0' || host === '') return '127.0.0.1';
  if (host === '::' || host === '[::]') return '[::1]';
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}

function unrefStream(stream: unknown): void {
  (stream as { unref?: () => void } | null)?.unref?.();
}

function failureHint(lines: readonly string[]): string | undefined {
  if (lines.some((l) => /address already in use/i.test(l))) return 'The port is in use: choose another port, or 0 for a free one.';
  if (lines.some((l) => /Duplicate 'store_dir'/i.test(l))) return 'Remove store_dir from the config file when the store directory is given on the command line (-sd).';
  if (lines.length === 0) return 'The server wrote nothing: if its config sets log_file, readiness cannot be read from its output.';
  return undefined;
}

/**
 * Spawns nats-server and resolves once it logged "Server is ready", with the port it
 * listens on. Rejects with a `NatsServerError` (with the relevant log lines) if the
 * binary is missing, the server exits first, or the deadline passes. A server still
 * running when this Node process exits is signalled (`signalOnProcessExit`).
 */
export function spawnNatsServer(options: SpawnNatsServerOptions): Promise<NatsServerProcess> {
  const binary = options.binary ?? 'nats-server';
  const readyTimeoutMs = options.readyTimeoutMs ?? 15_000;
  const lines: string[] = [];
  let version = 'unknown';
  let host = '';
  let port = 0;

  const child = spawn(binary, [...options.args], {
    cwd: options.cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: options.detached ?? false,
  });
  if (child.pid !== undefined) track(child, options.signalOnProcessExit ?? 'SIGTERM');

  let exitInfo: NatsServerExit | undefined;
  const exited = new Promise<NatsServerExit>((resolve) => {
    child.once('exit', (code, signal) => {
      exitInfo = { code, signal };
      resolve(exitInfo);
    });
  });
  const running = () => child.pid !== undefined && exitInfo === undefined;

  return new Promise<NatsServerProcess>((resolve, reject) => {
    let settled = false;
    const fail = (error: NatsServerError) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (running()) child.kill('SIGKILL');
      reject(error);
    };
    const timer = setTimeout(() => {
      fail(new NatsServerError(`nats-server was not ready within ${readyTimeoutMs} ms${summarizeLog(lines)}`, failureHint(lines)));
    }, readyTimeoutMs);

    const onLine = (line: string) => {
      lines.push(line);
      if (lines.length > MAX_LOG_LINES) lines.shift();
      if (settled) return;
      const v = /\bVersion:\s+(\S+)/.exec(line);
      if (v?.[1] && version === 'unknown') version = v[1];
      const l = /Listening for client connections on (\S+):(\d+)\s*$/.exec(line);
      if (l?.[1] && l[2]) {
        host = l[1];
        port = Number(l[2]);
      }
      if (/Server is ready/.test(line)) {
        if (port === 0) return fail(new NatsServerError(`nats-server is ready but did not log its client port${summarizeLog(lines)}`));
        settled = true;
        clearTimeout(timer);
        unrefStream(child.stdout);
        unrefStream(child.stderr);
        child.unref();
        resolve(handle());
      }
    };
    for (const stream of [child.stdout, child.stderr]) {
      let rest = '';
      stream?.setEncoding('utf8');
      stream?.on('data', (chunk: string) => {
        const parts = (rest + chunk).split('\n');
        rest = parts.pop() ?? '';
        for (const part of parts) onLine(part.replace(/\r$/, ''));
      });
    }

    child.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') {
        fail(new NatsServerError(`cannot start nats-server: ${binary} not found`, natsServerInstallHint, { cause: err }));
      } else {
        fail(new NatsServerError(`cannot start nats-server (${binary}): ${err.message}`, undefined, { cause: err }));
      }
    });
    // 'close' comes after 'exit' once the pipes are drained, so the fatal line is in `lines`.
    child.once('close', (code: number | null, signal: NodeJS.Signals | null) => {
      fail(new NatsServerError(`nats-server exited before it was ready (${signal ?? `code ${code}`})${summarizeLog(lines)}`, failureHint(lines)));
    });

    function handle(): NatsServerProcess {
      let stopping: Promise<void> | undefined;
      const waitExit = async () => {
        child.ref();
        await exited;
      };
      return {
        pid: child.pid ?? -1,
        host,
        port,
        url: `nats://${clientHost(host)}:${port}`,
        version,
        exited,
        running,
        log: () => [...lines],
        async kill(signal: NodeJS.Signals = 'SIGKILL') {
          if (!running()) return;
          child.kill(signal);
          if (TERMINATING.has(signal)) await waitExit();
        },
        stop(timeoutMs = 10_000) {
          stopping ??= (async () => {
            if (!running()) return;
            child.kill('SIGTERM');
            let deadline: NodeJS.Timeout | undefined;
            const late = new Promise<'late'>((r) => {
              deadline = setTimeout(() => r('late'), timeoutMs);
            });
            const outcome = await Promise.race([exited, late]);
            clearTimeout(deadline);
            if (outcome === 'late' && running()) child.kill('SIGKILL');
            await waitExit();
          })();
          return stopping;
        },
      };
    }
  });
}
