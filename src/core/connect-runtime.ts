/**
 * The first half of starting a Mailroom: the hosted domains from the config, NATS (the embedded
 * server when no URL is configured), the connection's state, and the streams and buckets.
 * Everything after it (the ingress thread, the runtime's parts, HTTP) builds on what it returns.
 */
import type { EventEmitter } from 'node:events';
import type { NatsConnection } from '@nats-io/transport-node';
import type { MailroomConfig } from '../config/index.ts';
import { connectNats, natsSecurity } from '../transport/connect.ts';
import { startEmbeddedNatsServer } from '../transport/embedded-server.ts';
import { CONNECTION_NAMES, createNames, type Names } from '../transport/names.ts';
import { provision, provisionPolicy, type Provisioned } from '../transport/provision.ts';
import { Domains } from '../runtime/domains.ts';
import { ConnectionState } from '../runtime/health.ts';
import { createInboxRouter, type OrderingKey } from '../runtime/ordering.ts';
import type { ResourceScope } from '../runtime/resource-scope.ts';
import type { MailroomEvents, MailroomOptions } from './mailroom-types.ts';

export type OnError = (error: unknown, context: string) => void;

/** A connected, provisioned Mailroom that does not consume yet. Its resources belong to `scope`. */
export interface ConnectedRuntime {
  readonly config: MailroomConfig;
  readonly scope: ResourceScope;
  readonly events: EventEmitter<MailroomEvents>;
  readonly onError: OnError;
  readonly domains: Domains;
  /** The NATS server URL in use (the embedded server's when none was configured). */
  readonly natsUrl: string;
  readonly nc: NatsConnection;
  readonly connection: ConnectionState;
  readonly names: Names;
  readonly handles: Provisioned;
  /** The ordered inbox: the key function (undefined: no order), its partitions (0: none), and where an envelope is published. */
  readonly ordering: {
    readonly key: OrderingKey | undefined;
    readonly partitions: number;
    readonly inboxSubjectFor: ReturnType<typeof createInboxRouter>;
  };
}

export async function connectRuntime(config: MailroomConfig, options: MailroomOptions, base: Pick<ConnectedRuntime, 'scope' | 'events' | 'onError'>): Promise<ConnectedRuntime> {
  const { scope, events, onError } = base;
  const names = createNames(config.nats.prefix);
  const domains = await Domains.load(config, options.handlers);

  let natsUrl = config.nats.url;
  if (natsUrl === undefined) {
    const embedded = config.nats.embedded;
    const server = await scope.acquire(
      () => startEmbeddedNatsServer({ storeDir: embedded.storeDir, port: embedded.port, ...(embedded.configFile ? { configFile: embedded.configFile } : {}) }),
      (s) => s.stop(),
    );
    natsUrl = server.url;
  }
  const nc: NatsConnection = await scope.acquire(
    () => connectNats({ url: natsUrl, name: CONNECTION_NAMES.runtime, ...natsSecurity(config.nats) }),
    async (c) => {
      await c.drain().catch(() => c.close());
    },
  );
  const connection = new ConnectionState(nc);
  connection.watch((change) => events.emit('nats', change), onError);

  const { delivery, validation } = config;
  const configured = delivery.ordering;
  const key: OrderingKey | undefined = options.orderingKey ?? (configured ? (h) => (configured.by === 'sender' ? h.From : h.Subject) : undefined);
  const partitions = key ? (configured?.partitions ?? 16) : 0;
  const handles = await provision(nc, names, {
    ...(partitions > 0 ? { ordered: { partitions } } : {}),
    // Above every subject's own maxAttempts, so the machine (not JetStream) decides when to give up.
    inbox: { maxDeliver: Math.max(delivery.maxAttempts, ...Object.values(delivery.subjects).map((s) => s.maxAttempts ?? 0)) + 2, ackWaitMs: delivery.ackWaitMs, duplicateWindowMs: Math.min(validation.replayWindowMs, 10 * 60_000) },
    outbox: { maxDeliver: config.outbox.maxAttempts + 2 },
    replayWindowMs: validation.replayWindowMs,
    statusTtlMs: config.status.ttlMs,
    ...provisionPolicy(config.nats, (drift) => onError(drift, 'provisioning')),
    ...(delivery.inboxConsumers === 'per-domain' ? { inboxDomains: [...domains.identities.keys()] } : {}),
  });
  return { config, scope, events, onError, domains, natsUrl, nc, connection, names, handles, ordering: { key, partitions, inboxSubjectFor: createInboxRouter(names, key, partitions) } };
}
