/**
 * One actor per message in a process (issue 12, observation 7): a redelivery of a message whose
 * actor is still running here starts no second actor, and the running one settles the message.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AckPolicy, jetstream, jetstreamManager, RetentionPolicy, type JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { startNatsServer, type NatsServerHandle } from '../support/nats-server.ts';
import { natsUsersConfig, urlAs, type TestUser } from '../support/nats-users.ts';
import { makeFixture } from '../support/runtime-fixture.ts';
import { waitFor } from '../support/wait-for.ts';
import { connectNats } from '../../src/transport/connect.ts';
import { createNames } from '../../src/transport/names.ts';
import { startMailroom } from '../../src/mailroom/start-mailroom.ts';
import { encodeEnvelope } from '../../src/envelope/index.ts';

const PREFIX = 'oapm';
const names = createNames(PREFIX);
const admin: TestUser = { user: 'admin', password: 'admin-pw' };
/** Its acks and in-progress marks never land: nats-server redelivers whatever it holds, every ack wait. */
const noAck: TestUser = { user: 'noack', password: 'noack-pw', denyPublish: [`$JS.ACK.${names.streams.inbox}.>`] };

let server: NatsServerHandle;
let nc: NatsConnection;
let jsm: JetStreamManager;

beforeAll(async () => {
  const dir = await mkdtemp(join(tmpdir(), 'mailroom-oapm-'));
  server = await startNatsServer({ args: await natsUsersConfig(dir, [admin, noAck]) });
  nc = await connectNats({ url: urlAs(server.url, admin) });
  jsm = await jetstreamManager(nc);
});
afterAll(async () => {
  await nc?.close();
  await server?.stop();
});

describe('nats-server (the installed version) on a redelivered message', () => {
  it('settles it by stream sequence: the ack of the older delivery ends it as well as the newer one would', async () => {
    await jsm.streams.add({ name: 'PROBE', subjects: ['probe.>'], retention: RetentionPolicy.Workqueue });
    await jsm.consumers.add('PROBE', { durable_name: 'probe', ack_policy: AckPolicy.Explicit, ack_wait: 500_000_000 });
    const js = jetstream(nc);
    await js.publish('probe.one', 'one');
    const consumer = await js.consumers.get('PROBE', 'probe');
    const first = await consumer.next({ expires: 5_000 });
    expect(first?.info.deliveryCount).toBe(1);
    // Not acked within the ack wait: delivered again.
    const second = await consumer.next({ expires: 5_000 });
    expect(second?.seq).toBe(first!.seq);
    expect(second?.info.deliveryCount).toBe(2);
    first!.ack();
    await nc.flush();
    await waitFor(async () => (await jsm.consumers.info('PROBE', 'probe')).num_ack_pending === 0, { what: 'the older ack to settle it' });
    expect((await jsm.streams.info('PROBE')).state.messages).toBe(0);
    expect(await consumer.next({ expires: 1_500 })).toBeNull();
  });
});

describe('a message redelivered while its actor runs', () => {
  it('runs the handler once, never twice at a time, and the envelope is replied', async () => {
    const fixture = await makeFixture({
      natsUrl: server.url,
      local: ['shop.example'],
      remote: ['orders.example'],
      extra: {
        nats: { url: urlAs(server.url, noAck), prefix: PREFIX },
        delivery: { ackWait: '1s', maxAttempts: 20, retry: { initialDelay: 50, maxDelay: 200 } },
      },
    });
    let running = 0;
    let mostAtOnce = 0;
    let calls = 0;
    let release = (): void => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const mailroom = await startMailroom(fixture.config, {
      handlers: {
        'shop.example': {
          'Hello@Host': async () => {
            calls++;
            mostAtOnce = Math.max(mostAtOnce, ++running);
            await gate;
            running--;
            return { ok: true };
          },
        },
      },
      outboxWorker: false,
      onError: () => undefined,
    });
    try {
      const request = fixture.domains['orders.example']!.sign({ To: 'shop.example', Subject: 'Hello@Host', Body: {} });
      const res = await fetch(`${mailroom.url}/inbox`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: encodeEnvelope(request) });
      expect(res.status).toBe(202);
      await waitFor(() => calls === 1, { what: 'the handler entered' });
      // While the handler blocks, nats-server delivers the message twice more to this process.
      await waitFor(async () => (await jsm.consumers.info(names.streams.inbox, names.consumers.inbox)).delivered.consumer_seq >= 3, { what: 'two redeliveries', timeoutMs: 20_000 });
      expect(calls).toBe(1);
      release();
      await waitFor(async () => (await mailroom.status('orders.example', request.Header.Correlation))?.state === 'replied', { what: 'replied' });
      // Later deliveries (its acks still never land) find it answered: the handler does not run again.
      const delivered = (await jsm.consumers.info(names.streams.inbox, names.consumers.inbox)).delivered.consumer_seq;
      await waitFor(async () => (await jsm.consumers.info(names.streams.inbox, names.consumers.inbox)).delivered.consumer_seq >= delivered + 1, { what: 'one more redelivery', timeoutMs: 20_000 });
      expect(calls).toBe(1);
      expect(mostAtOnce).toBe(1);
      expect((await mailroom.status('orders.example', request.Header.Correlation))?.state).toBe('replied');
    } finally {
      release();
      await mailroom.stop();
    }
  }, 60_000);
});
