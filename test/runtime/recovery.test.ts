/**
 * What can go wrong, with real processes: the runtime killed with SIGKILL mid-batch,
 * nats-server killed and restarted under load, the inbox while JetStream is down.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NatsConnection } from '@nats-io/transport-node';
import { startNatsServer, type NatsServerHandle } from '../support/nats-server.ts';
import { makeFixture, type Fixture } from '../support/runtime-fixture.ts';
import { readHolds, startChildRuntime } from '../support/child-runtime.ts';
import { waitFor } from '../support/wait-for.ts';
import { connectNats } from '../../src/transport/connect.ts';
import { TransportError } from '../../src/errors.ts';
import { createNames } from '../../src/transport/names.ts';
import { startMailroom } from '../../src/mailroom/start-mailroom.ts';
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
    // The state at the kill is built, not raced: 100 envelopes done, then 8 (= concurrency) held
    // in their handlers until the process dies, then 92 more accepted that cannot start.
    const concurrency = 8;
    const fixture = await fixtureFor(concurrency);
    const holdDir = join(fixture.dir, 'holds');
    await mkdir(holdDir);
    const orders = fixture.domains['orders.example']!;
    const sign = (body: { n: number; hold?: boolean }) => orders.sign({ To: 'shop.example', Subject: 'Hello@Host', Body: body });
    const done = Array.from({ length: 100 }, (_, n) => sign({ n }));
    const inFlight = Array.from({ length: concurrency }, (_, n) => sign({ n: 100 + n, hold: true }));
    const queued = Array.from({ length: 92 }, (_, n) => sign({ n: 108 + n }));
    const envelopes = [...done, ...inFlight, ...queued];
    const spec = { input: fixture.input, dir: fixture.dir, handlerDelayMs: 10, outboxWorker: false };

    const first = await startChildRuntime({ ...spec, holdDir }, 'first');
    await postAll(first.url, done.map((e) => JSON.stringify(e)));
    await waitFor(async () => (await finalStatuses(fixture.prefix)).size === done.length, { what: 'the first 100 final', timeoutMs: 30_000 });
    await postAll(first.url, inFlight.map((e) => JSON.stringify(e)));
    const held = await waitFor(async () => {
      const holds = await readHolds(holdDir);
      return holds.length === concurrency ? holds : undefined;
    }, { what: `${concurrency} envelopes held in flight`, timeoutMs: 30_000 });
    await postAll(first.url, queued.map((e) => JSON.stringify(e)));
    await first.kill('SIGKILL');
    expect(held.every((h) => h.pid === first.pid && h.attempt === 1)).toBe(true);
    expect(new Set(held.map((h) => h.correlation))).toEqual(new Set(inFlight.map((e) => e.Header.Correlation)));
    expect((await finalStatuses(fixture.prefix)).size).toBe(done.length);

    const second = await startChildRuntime(spec, 'second');
    try {
      const finals = await waitFor(async () => {
        const statuses = await finalStatuses(fixture.prefix);
        return statuses.size === envelopes.length ? statuses : undefined;
      }, { what: 'every envelope final after the restart', timeoutMs: 30_000 });
      for (const envelope of envelopes) expect(finals.get(`orders.example/${envelope.Header.Correlation}`)?.state).toBe('replied');
      // What was in flight at the kill was delivered again, and answered by the second process.
      for (const envelope of inFlight) expect(finals.get(`orders.example/${envelope.Header.Correlation}`)?.attempt).toBeGreaterThan(1);
      const replies = await outboxCorrelations(fixture.prefix);
      expect(replies).toHaveLength(envelopes.length);
      expect(new Set(replies).size).toBe(envelopes.length);
    } finally {
      await second.kill('SIGTERM');
    }
  }, 120_000);
});

describe('nats-server killed and restarted under load', () => {
  it('the runtime reconnects; every accepted envelope reaches a final state; the inbox answers 503 meanwhile, 202 after', async () => {
    const fixture = await fixtureFor();
    const orders = fixture.domains['orders.example']!;
    const errors: { error: unknown; context: string }[] = [];
    const mailroom = await startMailroom(fixture.config, {
      handlers: { 'shop.example': { 'Hello@Host': ({ body }) => ({ echo: body }) } },
      outboxWorker: false,
      onError: (error, context) => errors.push({ error, context }),
    });
    const natsChanges: string[] = [];
    mailroom.events.on('nats', (change) => natsChanges.push(change.type));
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
      // The loss is reported, not silent.
      const lost = errors.find((e) => e.context === 'nats');
      expect(lost?.error).toBeInstanceOf(TransportError);
      expect((lost?.error as Error).message).toMatch(/lost the NATS connection/);

      await server.restart();
      await postAll(mailroom.url!, bodies.slice(50));
      expect(natsChanges.slice(0, 2)).toEqual(['disconnect', 'reconnect']);
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
