/**
 * Domains spread over processes (issue 16): two runtimes on one prefix host different domains;
 * with per-domain inbox consumers each gets only its own envelopes, every envelope is replied to
 * once, none is discarded as not-addressed-to-us, and an envelope to a domain nobody hosts waits.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { defaultParseLimits } from '../../src/envelope/index.ts';
import { acceptEnvelope, type InboxDeps } from '../../src/runtime/inbox.ts';
import { createInboxRouter } from '../../src/runtime/ordering.ts';
import { StatusStore } from '../../src/runtime/status-store.ts';
import type { NatsConnection } from '@nats-io/transport-node';
import { startNatsServer, type NatsServerHandle } from '../support/nats-server.ts';
import { runDomainsSpread } from './domains-spread-scenario.ts';
import { connectNats } from '../../src/transport/connect.ts';
import { createNames } from '../../src/transport/names.ts';
import { makeFixture } from '../support/runtime-fixture.ts';
import { parseConfig } from '../../src/config/index.ts';
import { startMailroom } from '../../src/mailroom/start-mailroom.ts';
import { waitFor } from '../support/wait-for.ts';

let server: NatsServerHandle;
let nc: NatsConnection;

beforeAll(async () => {
  server = await startNatsServer();
  nc = await connectNats({ url: server.url });
});
afterAll(async () => {
  await nc?.close();
  await server?.stop();
});

describe('domains spread over processes', () => {
  it('gives each process only the envelopes of its own domains', async () => {
    await runDomainsSpread([server.url, server.url], nc);
  });

  it('refuses per-domain inbox consumers with ordered partitions (those stay shared by every process)', async () => {
    const fixture = await makeFixture({ natsUrl: server.url, local: ['shop.example'] });
    expect(() => parseConfig({ ...fixture.input, delivery: { inboxConsumers: 'per-domain', ordering: { by: 'sender' } } }, { baseDir: fixture.dir, env: {} })).toThrow(/ordered partitions/);
  });

  it('retires an idle shared inbox consumer on upgrade, and its waiting envelopes go to the per-domain consumers', async () => {
    const fixture = await makeFixture({ natsUrl: server.url, local: ['shop.example'], remote: ['client.example'] });
    const client = fixture.domains['client.example']!;
    // An older Mailroom: the shared consumer, with envelopes accepted and not yet handled.
    const old = await startMailroom(fixture.config, { outboxWorker: false });
    await old.stop();
    const names = createNames(fixture.prefix);
    const inbox: InboxDeps = {
      js: jetstream(nc),
      names,
      subjectFor: createInboxRouter(names, undefined, 0),
      status: new StatusStore(await new Kvm(nc).open(names.buckets.status), names.statusKey),
      limits: defaultParseLimits,
      isConnected: () => true,
      publishTimeoutMs: 5_000,
    };
    for (let n = 0; n < 3; n++) expect((await acceptEnvelope(Buffer.from(client.signed({ To: 'shop.example', Subject: 'Ping@Shop', Body: { n } })), 'json', inbox)).kind).toBe('accepted');
    const jsm = await jetstreamManager(nc);
    expect((await jsm.consumers.info(names.streams.inbox, names.consumers.inbox)).name).toBe(names.consumers.inbox);

    const handled: number[] = [];
    const upgraded = await startMailroom(parseConfig({ ...fixture.input, delivery: { ...(fixture.input['delivery'] as object), inboxConsumers: 'per-domain' } }, { baseDir: fixture.dir, env: {} }), {
      outboxWorker: false,
      handlers: { 'shop.example': { 'Ping@Shop': ({ body }) => void handled.push((body as { n: number }).n) } },
    });
    try {
      await waitFor(() => handled.length === 3, { what: 'the waiting envelopes handled by the per-domain consumer', timeoutMs: 20_000 });
      await expect(jsm.consumers.info(names.streams.inbox, names.consumers.inbox)).rejects.toThrow();
      expect((await jsm.consumers.info(names.streams.inbox, names.inboxDomainConsumer('shop.example'))).config.filter_subject).toBe(names.inboxDomainFilter('shop.example'));
    } finally {
      await upgraded.stop();
    }
  });
});
