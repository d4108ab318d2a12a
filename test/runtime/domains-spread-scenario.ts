/**
 * The domains-spread scenario, on one server or a cluster: runtime A hosts `a.example`, runtime B
 * `b.example`, on one prefix with per-domain inbox consumers. Envelopes to both (and to
 * `c.example`, hosted by nobody) are accepted through A.
 */
import { expect } from 'vitest';
import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { makeFixture } from '../support/runtime-fixture.ts';
import { readStream } from '../support/stream-reads.ts';
import { waitFor } from '../support/wait-for.ts';
import { parseConfig } from '../../src/config/index.ts';
import { startMailroom } from '../../src/mailroom/start-mailroom.ts';
import type { Mailroom } from '../../src/core/mailroom-types.ts';
import type { Envelope } from '../../src/envelope/types.ts';
import type { EnvelopeStatus } from '../../src/runtime/status-store.ts';
import { inboxByDomain } from '../../src/runtime/inbox-domains.ts';
import { createNames } from '../../src/transport/names.ts';

const N = 20;

/** Runs the scenario; `urls` are the NATS URLs of runtime A and B (two nodes of a cluster, or one server twice). */
export async function runDomainsSpread(urls: readonly [string, string], nc: NatsConnection): Promise<void> {
  const fixture = await makeFixture({
    natsUrl: urls[0],
    local: ['a.example', 'b.example'],
    remote: ['client.example'],
    extra: { delivery: { inboxConsumers: 'per-domain', retry: { initialDelay: 100, maxDelay: 1000, multiplier: 2 } } },
  });
  const client = fixture.domains['client.example']!;
  const only = (domain: string, url: string) =>
    parseConfig(
      { ...fixture.input, nats: { url, prefix: fixture.prefix }, domains: (fixture.input['domains'] as { name: string }[]).filter((d) => d.name === domain) },
      { baseDir: fixture.dir, env: {} },
    );
  const handled: { domain: string; to: string; n: number }[] = [];
  const settled: { runtime: string; status: EnvelopeStatus }[] = [];
  const start = async (domain: string, url: string): Promise<Mailroom> => {
    const runtime = await startMailroom(only(domain, url), {
      outboxWorker: false,
      handlers: { [domain]: { 'Ping@Shop': ({ to, body }) => (handled.push({ domain, to, n: (body as { n: number }).n }), { pong: (body as { n: number }).n }) } },
    });
    runtime.events.on('settled', (status) => settled.push({ runtime: domain, status }));
    return runtime;
  };
  const a = await start('a.example', urls[0]);
  const b = await start('b.example', urls[1]);
  try {
    const sent: Envelope[] = [];
    for (let n = 0; n < N; n++) sent.push(client.sign({ To: n % 2 ? 'b.example' : 'a.example', Subject: 'Ping@Shop', Body: { n } }));
    for (let n = 0; n < 2; n++) sent.push(client.sign({ To: 'c.example', Subject: 'Ping@Shop', Body: { n: N + n } }));
    for (const envelope of sent) expect((await a.accept(JSON.stringify(envelope))).kind).toBe('accepted');

    const finals = await waitFor(() => {
      const done = settled.filter((s) => s.status.final);
      return done.length >= N ? done : undefined;
    }, { what: `${N} envelopes settled`, timeoutMs: 30_000 });
    // Each process handled only its own domain's envelopes, each envelope once.
    expect(handled.every((h) => h.domain === h.to)).toBe(true);
    expect(handled.map((h) => h.n).sort((x, y) => x - y)).toEqual(Array.from({ length: N }, (_, n) => n));
    expect(finals.every((s) => s.status.state === 'replied' && s.runtime === s.status.to)).toBe(true);
    expect(settled.filter((s) => s.status.discard?.reason === 'not-addressed-to-us')).toEqual([]);
    // One reply per envelope in the outbox (no outbox worker here, so they stay).
    const names = createNames(fixture.prefix);
    const replies = await readStream<Envelope>(nc, names.streams.outbox);
    expect(replies.map((r) => (r.Body as { pong: number }).pong).sort((x, y) => x - y)).toEqual(Array.from({ length: N }, (_, n) => n));
    // The envelopes to c.example, hosted by nobody, wait in the inbox.
    const jsm = await jetstreamManager(nc);
    expect(await inboxByDomain(jsm, names)).toEqual(new Map([['c.example', 2]]));
    expect(settled.some((s) => s.status.to === 'c.example')).toBe(false);
  } finally {
    await Promise.all([a.stop(), b.stop()]);
  }
}
