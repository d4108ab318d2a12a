/**
 * Test launcher: a real nats-server per test file, on a free port, with a temporary
 * store directory. Never the shared server on 127.0.0.1:4222.
 *
 * @example
 * ```ts
 * let server: NatsServerHandle;
 * beforeAll(async () => { server = await startNatsServer(); });
 * afterAll(() => server?.stop());
 * it.skipIf(!serverSupports(server.version, 'msgTtl'))('uses Nats-TTL', ...);
 * ```
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnNatsServer, type NatsServerProcess } from '../../src/transport/spawn-nats-server.ts';
import { featuresForVersion, type ServerFeature } from '../../src/transport/server-info.ts';
import { NatsServerError } from '../../src/errors.ts';
import { freePort, portTaken } from './processes.ts';

export interface StartNatsServerOptions {
  /** Enable JetStream with the temp store dir (default true). */
  readonly jetstream?: boolean;
  /** Extra nats-server arguments. */
  readonly args?: readonly string[];
  /** Keep the store dir after `stop()` (default false). */
  readonly keepStore?: boolean;
}

export interface NatsServerHandle {
  readonly url: string;
  readonly port: number;
  readonly storeDir: string;
  readonly version: string;
  /** The pid of the current process (changes on `restart()`). */
  readonly pid: number;
  /** The current process's last log lines. */
  log(): readonly string[];
  /** Graceful stop; idempotent; removes the store dir unless `keepStore`. */
  stop(): Promise<void>;
  /** Abrupt end (default SIGKILL); keeps the store dir. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Starts again on the same port with the same store dir (stops the running one gracefully first). */
  restart(): Promise<void>;
}

const leftoverStores = new Set<string>();
let exitHookInstalled = false;

function removeLeftoverStoresOnExit(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const dir of leftoverStores) rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
  });
}

/** Starts a nats-server for this test file. */
export async function startNatsServer(options: StartNatsServerOptions = {}): Promise<NatsServerHandle> {
  const storeDir = await mkdtemp(join(tmpdir(), 'mailroom-nats-'));
  const keepStore = options.keepStore ?? false;
  if (!keepStore) {
    leftoverStores.add(storeDir);
    removeLeftoverStoresOnExit();
  }
  const argsFor = (port: number) => [
    '-a', '127.0.0.1',
    '-p', String(port),
    ...(options.jetstream ?? true ? ['-js', '-sd', storeDir] : []),
    ...(options.args ?? []),
  ];
  const launch = (port: number) => spawnNatsServer({ args: argsFor(port), signalOnProcessExit: 'SIGKILL' });

  let current: NatsServerProcess;
  try {
    // A port below the ephemeral range (see freePort), so restart() gets it back after a kill.
    for (let attempt = 1; ; attempt++) {
      try {
        current = await launch(await freePort());
        break;
      } catch (error) {
        if (!portTaken(error) || attempt === 3) throw error;
      }
    }
  } catch (error) {
    await rm(storeDir, { recursive: true, force: true });
    leftoverStores.delete(storeDir);
    throw error;
  }
  const { url, port, version } = current;
  let stopped: Promise<void> | undefined;

  return {
    url,
    port,
    storeDir,
    version,
    get pid() {
      return current.pid;
    },
    log: () => current.log(),
    stop() {
      stopped ??= (async () => {
        await current.stop();
        if (!keepStore) {
          await rm(storeDir, { recursive: true, force: true, maxRetries: 3 });
          leftoverStores.delete(storeDir);
        }
      })();
      return stopped;
    },
    kill: (signal = 'SIGKILL') => current.kill(signal),
    async restart() {
      if (stopped) throw new NatsServerError('restart() after stop(): the store dir is gone');
      await current.stop();
      current = await launch(port);
    },
  };
}

/** True when a server of `version` has `feature`; use it to skip tests, like nats.js's `notCompatible`. */
export function serverSupports(version: string, feature: ServerFeature): boolean {
  return featuresForVersion(version)[feature];
}
