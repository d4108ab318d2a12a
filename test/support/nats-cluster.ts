/**
 * Test launcher for a real 3-node (or N-node) NATS JetStream cluster on loopback: one
 * nats-server process per node, each with its own client port, route port, store directory
 * and server name, routed to every other node. For tests about replicas, leader loss and
 * processes sharing one cluster. Never the shared server on 127.0.0.1:4222.
 *
 * @example
 * ```ts
 * let cluster: NatsClusterHandle;
 * beforeAll(async () => { cluster = await startNatsCluster(); });
 * afterAll(() => cluster?.stop());
 * // connect with cluster.urls (every node), kill a stream's leader with cluster.kill(await cluster.leaderOf(jsm, 'MAILROOM_INBOX'))
 * ```
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { spawnNatsServer, type NatsServerProcess } from '../../src/transport/spawn-nats-server.ts';
import { NatsServerError } from '../../src/errors.ts';
import { freePort, portTaken } from './processes.ts';

export interface StartNatsClusterOptions {
  /** How many nodes (default 3). */
  readonly nodes?: number;
  /** How long to wait for the cluster's JetStream meta leader (default 30 s). */
  readonly readyTimeoutMs?: number;
}

export interface NatsClusterNode {
  /** The server name (`n1`, `n2`, …): what JetStream reports as a stream's leader. */
  readonly name: string;
  readonly url: string;
  readonly port: number;
  readonly storeDir: string;
  /** The pid of the node's current process (changes on `restart()`). */
  readonly pid: number;
  running(): boolean;
  log(): readonly string[];
}

export interface NatsClusterHandle {
  readonly nodes: readonly NatsClusterNode[];
  /** Every node's URL: what a client gets so it can fail over. */
  readonly urls: string[];
  readonly version: string;
  /** SIGKILLs node `i` (0-based); its store stays for `restart(i)`. */
  kill(i: number): Promise<void>;
  /** Starts node `i` again on the same ports with the same store, and waits until it is ready. */
  restart(i: number): Promise<void>;
  /** The index of the node that leads `stream` now (asked through `jsm`). */
  leaderOf(jsm: JetStreamManager, stream: string): Promise<number>;
  /** Waits until JetStream answers (a meta leader is elected) through a connection to every live node. */
  ready(timeoutMs?: number): Promise<void>;
  /** Stops every node gracefully and removes the stores. Idempotent. */
  stop(): Promise<void>;
}

const CLUSTER_NAME = 'mailroom-test';

function nodeConfig(name: string, clientPort: number, routePort: number, routes: readonly number[], storeDir: string): string {
  return [
    `server_name: ${name}`,
    `listen: 127.0.0.1:${clientPort}`,
    `jetstream { store_dir: ${JSON.stringify(storeDir)} }`,
    'cluster {',
    `  name: ${CLUSTER_NAME}`,
    `  listen: 127.0.0.1:${routePort}`,
    `  routes: [${routes.map((p) => `nats-route://127.0.0.1:${p}`).join(', ')}]`,
    '}',
    '',
  ].join('\n');
}

const leftovers = new Set<string>();
let exitHookInstalled = false;

/** Starts an N-node JetStream cluster on loopback and waits until its meta leader answers. */
export async function startNatsCluster(options: StartNatsClusterOptions = {}): Promise<NatsClusterHandle> {
  const count = options.nodes ?? 3;
  const root = await mkdtemp(join(tmpdir(), 'mailroom-cluster-'));
  leftovers.add(root);
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on('exit', () => {
      for (const dir of leftovers) rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
    });
  }
  const names = Array.from({ length: count }, (_, i) => `n${i + 1}`);
  const configs = names.map((name) => join(root, `${name}.conf`));
  let clientPorts: number[] = [];
  const writeConfigs = async () => {
    clientPorts = [];
    const routePorts: number[] = [];
    for (let i = 0; i < count; i++) {
      clientPorts.push(await freePort());
      routePorts.push(await freePort());
    }
    for (let i = 0; i < count; i++) {
      await writeFile(configs[i]!, nodeConfig(names[i]!, clientPorts[i]!, routePorts[i]!, routePorts.filter((_, j) => j !== i), join(root, names[i]!)));
    }
  };
  const launch = (i: number) => spawnNatsServer({ args: ['-c', configs[i]!], signalOnProcessExit: 'SIGKILL', readyTimeoutMs: 30_000 });
  const processes: NatsServerProcess[] = [];
  let stopped: Promise<void> | undefined;
  const stopAll = () =>
    (stopped ??= (async () => {
      await Promise.all(processes.map((p) => p.stop()));
      await rm(root, { recursive: true, force: true, maxRetries: 3 });
      leftovers.delete(root);
    })());
  try {
    for (let attempt = 1; ; attempt++) {
      await writeConfigs();
      // All at once: each node waits for its routes, and JetStream elects a meta leader once a quorum is up.
      const launched = await Promise.allSettled(configs.map((_, i) => launch(i)));
      const failed = launched.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (!failed) {
        processes.push(...launched.map((r) => (r as PromiseFulfilledResult<NatsServerProcess>).value));
        break;
      }
      await Promise.all(launched.map((r) => (r.status === 'fulfilled' ? r.value.stop() : undefined)));
      // A port was taken between picking and binding (another program on this machine): pick others.
      if (!portTaken(failed.reason) || attempt === 3) throw failed.reason;
      await Promise.all(names.map((name) => rm(join(root, name), { recursive: true, force: true, maxRetries: 3 })));
    }
  } catch (error) {
    await stopAll();
    throw error;
  }
  const urls = processes.map((p) => p.url);

  const ready = async (timeoutMs = options.readyTimeoutMs ?? 30_000) => {
    const deadline = Date.now() + timeoutMs;
    const live = processes.filter((p) => p.running());
    for (const p of live) {
      for (;;) {
        const nc = await connect({ servers: p.url, reconnect: false, timeout: 2_000 }).catch(() => undefined);
        try {
          if (nc) {
            const jsm = await jetstreamManager(nc, { timeout: 2_000 });
            await jsm.getAccountInfo();
            break;
          }
        } catch (_) {
          // No meta leader yet: ask again.
        } finally {
          await nc?.close();
        }
        if (Date.now() > deadline) throw new NatsServerError(`the ${count}-node cluster's JetStream did not answer through ${p.url} within ${timeoutMs} ms`);
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    }
  };
  try {
    await ready();
  } catch (error) {
    await stopAll();
    throw error;
  }

  const nodes: NatsClusterNode[] = processes.map((_, i) => ({
    name: names[i]!,
    url: urls[i]!,
    port: clientPorts[i]!,
    storeDir: join(root, names[i]!),
    get pid() {
      return processes[i]!.pid;
    },
    running: () => processes[i]!.running(),
    log: () => processes[i]!.log(),
  }));

  return {
    nodes,
    urls,
    version: processes[0]!.version,
    ready,
    async kill(i) {
      await processes[i]!.kill('SIGKILL');
    },
    async restart(i) {
      if (stopped) throw new NatsServerError('restart() after stop(): the stores are gone');
      if (processes[i]!.running()) await processes[i]!.stop();
      processes[i] = await launch(i);
      await ready();
    },
    async leaderOf(jsm, stream) {
      const info = await jsm.streams.info(stream);
      const leader = info.cluster?.leader;
      const index = names.indexOf(leader ?? '');
      if (index < 0) throw new NatsServerError(`stream ${stream} has no leader among ${names.join(', ')} (${leader ?? 'none'})`);
      return index;
    },
    stop: stopAll,
  };
}
