/**
 * Competing consumers: three runtime processes share one inbox. Each envelope is handled by
 * exactly one of them; kill one while it holds work (envelopes held in its handler, so the
 * kill lands mid-work by construction) and the others take over its unacked envelopes.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NatsConnection } from '@nats-io/transport-node';
import { startNatsServer, type NatsServerHandle } from '../support/nats-server.ts';
import { makeFixture } from '../support/runtime-fixture.ts';
import { readHolds, releaseHolds, startChildRuntime, type ChildRuntime } from '../support/child-runtime.ts';
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
    const concurrency = 4;
    const fixture = await makeFixture({
      natsUrl: server.url,
      local: ['shop.example'],
      remote: ['orders.example'],
      extra: { delivery: { concurrency, ackWait: '2s', maxAttempts: 10 } },
    });
    const holdDir = join(fixture.dir, 'holds');
    await mkdir(holdDir);
    const spec = { input: fixture.input, dir: fixture.dir, handlerDelayMs: 50, outboxWorker: false, holdDir };
    for (const name of ['a', 'b', 'c']) children.push(await startChildRuntime(spec, name));
    const names = createNames(fixture.prefix);
    const orders = fixture.domains['orders.example']!;
    const post = async (envelope: Envelope, i: number) => {
      const res = await fetch(`${children[i % 3]!.url}/inbox`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(envelope) });
      expect(res.status).toBe(202);
    };
    const statuses = () => readStatuses(nc, names.buckets.status);
    const finals = async () => (await statuses()).filter((s) => s.final).length;

    // Shared work.
    const shared = Array.from({ length: 150 }, (_, n) => orders.sign({ To: 'shop.example', Subject: 'Hello@Host', Body: { n } }));
    for (const [i, envelope] of shared.entries()) await post(envelope, i);
    await waitFor(async () => (await finals()) === shared.length, { what: 'the shared work final', timeoutMs: 30_000 });

    // Work held in flight: as many envelopes as one process has slots, so each starts at once
    // wherever it lands and holds there until its process dies or the test releases it.
    const holding = Array.from({ length: concurrency }, (_, n) => orders.sign({ To: 'shop.example', Subject: 'Hello@Host', Body: { n: 150 + n, hold: true } }));
    for (const [i, envelope] of holding.entries()) await post(envelope, i);
    const held = await waitFor(async () => {
      const holds = await readHolds(holdDir);
      return holds.length === holding.length ? holds : undefined;
    }, { what: 'every held envelope in a handler' });
    const victim = children.find((c) => c.pid === held[0]!.pid)!;
    const victimHeld = held.filter((h) => h.pid === victim.pid).map((h) => h.correlation);
    await victim.kill('SIGKILL');
    await releaseHolds(holdDir);
    const envelopes = [...shared, ...holding];
    await waitFor(async () => ((await finals()) === envelopes.length ? true : undefined), { what: 'every envelope final', timeoutMs: 30_000 });

    // Exactly one reply per envelope, and more than one process did the work.
    const replies = await readStream<Envelope>(nc, names.streams.outbox);
    expect(replies).toHaveLength(envelopes.length);
    expect(new Set(replies.map((r) => r.Header.Correlation)).size).toBe(envelopes.length);
    const pids = new Set(replies.map((r) => (r.Body as { pid: number }).pid));
    // The handler runs in the very processes the test started (and killed).
    expect([...pids].sort()).toEqual(children.map((c) => c.pid).sort());
    // What the victim held unacked was redelivered to the others: handled again, as a later attempt.
    const final = await statuses();
    for (const correlation of victimHeld) {
      expect(final.find((s) => s.correlation === correlation)?.attempt).toBeGreaterThan(1);
      const reply = replies.find((r) => r.Header.Correlation === correlation);
      expect((reply?.Body as { pid: number }).pid).not.toBe(victim.pid);
    }
  }, 90_000);
});
