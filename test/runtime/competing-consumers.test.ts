/**
 * Competing consumers: three runtime processes share one inbox. Each envelope is handled by
 * exactly one of them; kill one mid-work and the others take over its unacked envelopes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NatsConnection } from '@nats-io/transport-node';
import { startNatsServer, type NatsServerHandle } from '../support/nats-server.ts';
import { makeFixture } from '../support/runtime-fixture.ts';
import { startChildRuntime, type ChildRuntime } from '../support/child-runtime.ts';
import { waitFor } from '../support/wait-for.ts';
import { connectNats } from '../../src/transport/connect.ts';
import { createNames } from '../../src/transport/names.ts';
import type { Envelope } from '../../src/envelope/types.ts';
import { readStatuses, readStream } from '../support/stream-reads.ts';

let server: NatsServerHandle;
let nc: NatsConnection;
const children: ChildRuntime[] = [];

beforeAll(async () => {
  server = await startNatsServer();
  nc = await connectNats({ url: server.url });
});
afterAll(async () => {
  await Promise.all(children.map((c) => c.kill('SIGKILL')));
  await nc?.close();
  await server?.stop();
});

describe('three processes on one inbox', () => {
  it('share the work, each envelope once, and take over from a process that dies', async () => {
    const fixture = await makeFixture({
      natsUrl: server.url,
      local: ['shop.example'],
      remote: ['orders.example'],
      extra: { delivery: { concurrency: 4, ackWait: '2s', maxAttempts: 10 } },
    });
    const spec = { input: fixture.input, dir: fixture.dir, handlerDelayMs: 200, outboxWorker: false };
    for (const name of ['a', 'b', 'c']) children.push(await startChildRuntime(spec, name));
    const names = createNames(fixture.prefix);
    const orders = fixture.domains['orders.example']!;
    const envelopes = Array.from({ length: 150 }, (_, n) => orders.sign({ To: 'shop.example', Subject: 'Hello@Host', Body: { n } }));
    for (const [i, envelope] of envelopes.entries()) {
      const res = await fetch(`${children[i % 3]!.url}/inbox`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(envelope) });
      expect(res.status).toBe(202);
    }

    const statuses = () => readStatuses(nc, names.buckets.status);
    const finals = async () => (await statuses()).filter((s) => s.final).length;
    // Kill one process while it holds work.
    await waitFor(async () => (await finals()) >= 20, { what: 'work under way' });
    const victim = children[0]!;
    await victim.kill('SIGKILL');
    await waitFor(async () => ((await finals()) === envelopes.length ? true : undefined), { what: 'every envelope final', timeoutMs: 30_000 });

    // Exactly one reply per envelope, and more than one process did the work.
    const replies = await readStream<Envelope>(nc, names.streams.outbox);
    expect(replies).toHaveLength(envelopes.length);
    expect(new Set(replies.map((r) => r.Header.Correlation)).size).toBe(envelopes.length);
    const pids = new Set(replies.map((r) => (r.Body as { pid: number }).pid));
    // The handler runs in the very processes the test started (and killed).
    expect([...pids].sort()).toEqual(children.map((c) => c.pid).sort());
    // What the victim held unacked was redelivered to the others: handled again, as a later attempt.
    const retaken = (await statuses()).filter((s) => s.attempt > 1);
    expect(retaken.length).toBeGreaterThan(0);
    const retakenReplies = replies.filter((r) => retaken.some((s) => s.correlation === r.Header.Correlation));
    for (const reply of retakenReplies) expect((reply.Body as { pid: number }).pid).not.toBe(victim.pid);
  }, 90_000);
});
