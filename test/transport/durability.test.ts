import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { connectNats } from '../../src/transport/connect.ts';
import { createNames } from '../../src/transport/names.ts';
import { provision, type Provisioned } from '../../src/transport/provision.ts';
import { startNatsServer, type NatsServerHandle } from '../support/nats-server.ts';
import { waitFor } from '../support/wait-for.ts';

const N = 200;

describe('durability across a server crash', () => {
  let server: NatsServerHandle;
  let nc: NatsConnection;
  let handles: Provisioned;
  const names = createNames('durable');
  const events: string[] = [];

  beforeAll(async () => {
    server = await startNatsServer();
    nc = await connectNats({ url: server.url, name: 'durability-test', reconnectTimeWaitMs: 100, reconnectJitterMs: 100 });
    void (async () => {
      for await (const s of nc.status()) events.push(s.type);
    })();
    handles = await provision(nc, names, {
      inbox: { maxDeliver: 5, ackWaitMs: 30_000, duplicateWindowMs: 120_000 },
      replayWindowMs: 600_000,
    });
  });
  afterAll(async () => {
    await nc?.close();
    await server?.stop();
  });

  it('keeps every acknowledged message after SIGKILL and restart, and the client reconnects by itself', async () => {
    const { js } = handles;
    const acks = await Promise.all(
      Array.from({ length: N }, (_, i) => js.publish(names.inboxSubject('orders.example', `sender${i}.example`), `envelope ${i}`, { msgID: `m-${i}` })),
    );
    expect(new Set(acks.map((a) => a.seq)).size).toBe(N);
    await handles.replay.create(names.replayKey('shop.example', 'c-1'), 'seen');
    const pidBefore = server.pid;

    await server.kill('SIGKILL');
    expect(() => process.kill(pidBefore, 0)).toThrow();
    await server.restart();
    expect(server.pid).not.toBe(pidBefore);

    // The same connection comes back without help.
    await waitFor(() => events.includes('reconnect'), { what: 'the client to reconnect', timeoutMs: 15_000 });
    const jsm = await jetstreamManager(nc);
    const info = await waitFor(() => jsm.streams.info(names.streams.inbox), { what: 'JetStream after restart' });
    expect(info.state.messages).toBe(N);
    expect(info.state.first_seq).toBe(1);
    expect(info.state.last_seq).toBe(N);
    for (const i of [0, N / 2, N - 1]) {
      const m = await jsm.streams.getMessage(names.streams.inbox, { seq: i + 1 });
      expect(m?.string()).toBe(`envelope ${i}`);
    }
    // Durable consumer and buckets survive too.
    expect((await jsm.consumers.info(names.streams.inbox, names.consumers.inbox)).num_pending).toBe(N);
    expect((await handles.replay.get(names.replayKey('shop.example', 'c-1')))?.string()).toBe('seen');

    // Publishing works again, and the dedupe window survived the crash.
    const again = await js.publish(names.inboxSubject('orders.example', 'late.example'), 'after restart', { msgID: 'm-after' });
    expect(again.seq).toBe(N + 1);
    const dup = await js.publish(names.inboxSubject('orders.example', 'sender0.example'), 'envelope 0', { msgID: 'm-0' });
    expect(dup.duplicate).toBe(true);
  });
});
