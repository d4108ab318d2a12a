/**
 * What can go wrong, with real processes: the runtime killed with SIGKILL mid-batch,
 * nats-server killed and restarted under load, the inbox while JetStream is down.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NatsConnection } from '@nats-io/transport-node';
import { startNatsServer, type NatsServerHandle } from '../support/nats-server.ts';
import { makeFixture, type Fixture } from '../support/runtime-fixture.ts';
import { startChildRuntime } from '../support/child-runtime.ts';
import { waitFor } from '../support/wait-for.ts';
import { connectNats } from '../../src/transport/connect.ts';
import { createNames } from '../../src/transport/names.ts';
import { startMailroom } from '../../src/runtime/mailroom.ts';
import type { EnvelopeStatus } from '../../src/runtime/status-store.ts';
import type { Envelope } from '../../src/envelope/types.ts';
import { readStatuses, readStream } from '../support/stream-reads.ts';

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

async function finalStatuses(prefix: string): Promise<Map<string, EnvelopeStatus>> {
  const statuses = await readStatuses(nc, createNames(prefix).buckets.status);
  return new Map(statuses.filter((s) => s.final).map((s) => [`${s.from}/${s.correlation}`, s]));
}

async function outboxCorrelations(prefix: string): Promise<string[]> {
  return (await readStream<Envelope>(nc, createNames(prefix).streams.outbox)).map((e) => e.Header.Correlation);
}

function fixtureFor(concurrency = 16): Promise<Fixture> {
  return makeFixture({
    natsUrl: server.url,
    local: ['shop.example'],
    remote: ['orders.example'],
    extra: { delivery: { ackWait: '2s', maxAttempts: 10, concurrency, retry: { initialDelay: 50, maxDelay: 500 } } },
  });
}

async function postAll(url: string, bodies: readonly string[]): Promise<void> {
  for (const body of bodies) {
    for (;;) {
      const res = await fetch(`${url}/inbox`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      if (res.status === 202) break;
      expect(res.status).toBe(503);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

describe('the runtime killed with SIGKILL mid-batch', () => {
  it('finishes every accepted envelope after a restart, and never publishes a reply twice', async () => {
    // 8 at a time, 100 ms each: the batch takes seconds, so the kill lands in the middle of it.
    const fixture = await fixtureFor(8);
    const orders = fixture.domains['orders.example']!;
    const envelopes = Array.from({ length: 200 }, (_, n) => orders.sign({ To: 'shop.example', Subject: 'Hello@Host', Body: { n } }));
    const spec = { input: fixture.input, dir: fixture.dir, handlerDelayMs: 100, outboxWorker: false };

    const first = await startChildRuntime(spec, 'first');
    await postAll(first.url, envelopes.map((e) => JSON.stringify(e)));
    // Kill it while it is in the middle of the batch.
    await waitFor(async () => (await finalStatuses(fixture.prefix)).size >= 20, { what: 'some envelopes final', timeoutMs: 20_000 });
    await first.kill('SIGKILL');
    const doneBeforeKill = (await finalStatuses(fixture.prefix)).size;
    expect(doneBeforeKill).toBeLessThan(envelopes.length);

    const second = await startChildRuntime(spec, 'second');
    try {
      const finals = await waitFor(async () => {
        const statuses = await finalStatuses(fixture.prefix);
        return statuses.size === envelopes.length ? statuses : undefined;
      }, { what: 'every envelope final after the restart', timeoutMs: 30_000 });
      for (const envelope of envelopes) expect(finals.get(`orders.example/${envelope.Header.Correlation}`)?.state).toBe('replied');
      const replies = await outboxCorrelations(fixture.prefix);
      expect(replies).toHaveLength(envelopes.length);
      expect(new Set(replies).size).toBe(envelopes.length);
    } finally {
      await second.kill('SIGTERM');
    }
  }, 90_000);
});

describe('nats-server killed and restarted under load', () => {
  it('the runtime reconnects; every accepted envelope reaches a final state; the inbox answers 503 meanwhile, 202 after', async () => {
    const fixture = await fixtureFor();
    const orders = fixture.domains['orders.example']!;
    const mailroom = await startMailroom(fixture.config, {
      handlers: { 'shop.example': { 'Hello@Host': ({ body }) => ({ echo: body }) } },
      outboxWorker: false,
      onError: () => undefined,
    });
    try {
      const envelopes = Array.from({ length: 150 }, (_, n) => orders.sign({ To: 'shop.example', Subject: 'Hello@Host', Body: { n } }));
      const bodies = envelopes.map((e) => JSON.stringify(e));
      await postAll(mailroom.url!, bodies.slice(0, 50));

      await server.kill('SIGKILL');
      const refused = await waitFor(async () => {
        const res = await fetch(`${mailroom.url}/inbox`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: bodies[50]! });
        return res.status === 503 ? res : undefined;
      }, { what: 'a 503 while nats-server is down' });
      expect(((await refused.json()) as { error: string }).error).toBe('unavailable');
      expect((await fetch(`${mailroom.url}/readyz`)).status).toBe(503);

      await server.restart();
      await postAll(mailroom.url!, bodies.slice(50));
      expect((await fetch(`${mailroom.url}/readyz`)).status).toBe(200);

      const finals = await waitFor(async () => {
        const statuses = await finalStatuses(fixture.prefix);
        return statuses.size === envelopes.length ? statuses : undefined;
      }, { what: 'every accepted envelope final', timeoutMs: 45_000 });
      for (const envelope of envelopes) expect(finals.get(`orders.example/${envelope.Header.Correlation}`)?.state).toBe('replied');
      const replies = await outboxCorrelations(fixture.prefix);
      expect(new Set(replies).size).toBe(replies.length);
      expect(replies).toHaveLength(envelopes.length);
    } finally {
      await mailroom.stop();
    }
  }, 90_000);
});
