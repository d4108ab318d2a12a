/**
 * How the runtime is doing: whether its NATS connection is up (the inbox answers 503 while it
 * is not), whether it is ready (`GET /readyz`), and its queue depths (`GET /stats`, `/metrics`).
 */
import type { JetStreamManager, StreamInfo } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { TransportError } from '../errors.ts';
import type { Names } from '../transport/names.ts';

/** Queue depths, from JetStream (so they count every process sharing the consumers). */
export interface MailroomStats {
  readonly inbox: { readonly waiting: number; readonly inFlight: number; readonly redelivered: number };
  readonly outbox: { readonly waiting: number; readonly inFlight: number; readonly redelivered: number };
  readonly deadLetters: number;
  /** Envelope actors running in this process. */
  readonly actors: number;
  /**
   * This process's signature work: `workers` threads of its crypto pool (0: on the event loop),
   * how many of them run (they start with the first signature), operations done, operations waiting.
   */
  readonly crypto: { readonly workers: number; readonly threads: number; readonly operations: number; readonly queued: number };
}

/** What {@link MailroomStats.crypto} reads of a crypto pool. */
export interface CryptoStatsSource {
  stats(): { readonly size: number; readonly threads: number; readonly operations: number; readonly queued: number };
}

/** Ready = the inbox can store: connected, and its stream answers. */
export interface Readiness {
  readonly ready: boolean;
  readonly detail: string;
}

/** A change of the NATS connection, as `MailroomEvents.nats` reports it. */
export interface NatsChange {
  readonly type: 'disconnect' | 'reconnect';
  readonly server: string;
}

/** The NATS connection as the inbox sees it: up, or lost until the client reconnects. */
export class ConnectionState {
  #connected = true;

  constructor(private readonly nc: NatsConnection) {}

  /** Follows the connection's status until it closes: `onChange` on each loss and return; a loss also goes to `onError`. */
  watch(onChange: (change: NatsChange) => void, onError: (error: unknown, context: string) => void): void {
    void (async () => {
      for await (const s of this.nc.status()) {
        if (s.type === 'disconnect') {
          this.#connected = false;
          onChange({ type: 'disconnect', server: s.server });
          onError(new TransportError(`lost the NATS connection to ${s.server}; POST /inbox answers 503 until it is back`), 'nats');
        } else if (s.type === 'reconnect') {
          this.#connected = true;
          onChange({ type: 'reconnect', server: s.server });
        }
      }
    })();
  }

  /** Connected to NATS (as last reported), and the connection is not closed. */
  readonly isConnected = (): boolean => this.#connected && !this.nc.isClosed();
}

export class Health {
  constructor(
    private readonly parts: {
      readonly connection: Pick<ConnectionState, 'isConnected'>;
      readonly jsm: JetStreamManager;
      readonly names: Names;
      /** The inbox consumers this process pulls from (default: the shared one); `stats().inbox` sums them. */
      readonly inboxConsumers?: readonly string[];
    },
  ) {}

  /**
   * Ready = connected, and the inbox stream can store: it answers, has a leader, and (on a
   * cluster) a quorum of its replicas is current. During a leader election, or with too few
   * nodes up, it is not ready, and the inbox would answer 503 past its deadline.
   */
  readonly ready = async (): Promise<Readiness> => {
    if (!this.parts.connection.isConnected()) return { ready: false, detail: 'NATS is disconnected' };
    const stream = this.parts.names.streams.inbox;
    let info: StreamInfo;
    try {
      info = await this.parts.jsm.streams.info(stream);
    } catch (error) {
      return { ready: false, detail: `the inbox stream does not answer: ${error instanceof Error ? error.message : String(error)}` };
    }
    return storable(info);
  };

  /** Queue depths; `actors` counts the envelope actors running in this process (read last, as the depths come in). */
  async stats(actors: () => number, pool?: CryptoStatsSource): Promise<MailroomStats> {
    const { jsm, names } = this.parts;
    const consumer = async (stream: string, name: string) => {
      const info = await jsm.consumers.info(stream, name);
      return { waiting: info.num_pending, inFlight: info.num_ack_pending, redelivered: info.num_redelivered };
    };
    return {
      inbox: (await Promise.all((this.parts.inboxConsumers ?? [names.consumers.inbox]).map((name) => consumer(names.streams.inbox, name)))).reduce((sum, c) => ({
        waiting: sum.waiting + c.waiting,
        inFlight: sum.inFlight + c.inFlight,
        redelivered: sum.redelivered + c.redelivered,
      })),
      outbox: await consumer(names.streams.outbox, names.consumers.outbox),
      deadLetters: (await jsm.streams.info(names.streams.dlq)).state.messages,
      actors: actors(),
      crypto: cryptoStats(pool),
    };
  }
}

function cryptoStats(pool: CryptoStatsSource | undefined): MailroomStats['crypto'] {
  if (!pool) return { workers: 0, threads: 0, operations: 0, queued: 0 };
  const { size, threads, operations, queued } = pool.stats();
  return { workers: size, threads, operations, queued };
}

/** Whether a stream, as its info tells, can store now: a leader, and a quorum of its replicas (the leader counts) current. */
export function storable(info: StreamInfo): Readiness {
  const replicas = info.config.num_replicas || 1;
  const cluster = info.cluster;
  if (replicas <= 1 || !cluster) return { ready: true, detail: 'NATS and the inbox stream answer' };
  if (!cluster.leader) return { ready: false, detail: `the inbox stream has no leader (an election is under way, or too few of its ${replicas} nodes are up)` };
  const current = 1 + (cluster.replicas ?? []).filter((r) => r.current && !r.offline).length;
  const quorum = Math.floor(replicas / 2) + 1;
  if (current < quorum) return { ready: false, detail: `the inbox stream has ${current} of ${replicas} replicas current, fewer than a quorum (${quorum})` };
  return { ready: true, detail: `NATS and the inbox stream answer (leader ${cluster.leader}, ${current} of ${replicas} replicas current)` };
}
