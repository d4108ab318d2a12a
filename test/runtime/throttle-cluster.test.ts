/**
 * Cluster-wide throttle limits (issue 16): `scope: cluster` holds a subject's in-flight limit and
 * a sender's rate in a KV bucket every process on the prefix shares; a process that dies leaves
 * its slots to expire with their leases.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { startNatsServer, type NatsServerHandle } from '../support/nats-server.ts';
import { makeFixture } from '../support/runtime-fixture.ts';
import { startChildRuntime } from '../support/child-runtime.ts';
import { waitFor } from '../support/wait-for.ts';
import { parseConfig } from '../../src/config/index.ts';
import { startMailroom } from '../../src/mailroom/start-mailroom.ts';
import type { Mailroom } from '../../src/core/mailroom-types.ts';
import type { EnvelopeStatus } from '../../src/runtime/status-store.ts';
import { ClusterThrottle } from '../../src/runtime/cluster-throttle.ts';
import { connectNats } from '../../src/transport/connect.ts';
import { createNames } from '../../src/transport/names.ts';

let server: NatsServerHandle;
let nc: NatsConnection;
const runtimes: Mailroom[] = [];

beforeAll(async () => {
  server = await startNatsServer();
  nc = await connectNats({ url: server.url });
});
afterAll(async () => {
  await Promise.all(runtimes.map((r) => r.stop()));
  await nc?.close();
  await server?.stop();
});

/** A fixture hosting `a.example` and `b.example` (one runtime each, per-domain consumers), sent to by `client.example`. */
async function twoDomains(delivery: Record<string, unknown>) {
  const fixture = await makeFixture({
    natsUrl: server.url,
    local: ['a.example', 'b.example'],
    remote: ['client.example'],
    extra: { delivery: { inboxConsumers: 'per-domain', retry: { initialDelay: 100, maxDelay: 1000, multiplier: 2 }, ...delivery } },
  });
  const inputFor = (domain: string) => ({ ...fixture.input, domains: (fixture.input['domains'] as { name: string }[]).filter((d) => d.name === domain) });
  return { fixture, inputFor, configFor: (domain: string) => parseConfig(inputFor(domain), { baseDir: fixture.dir, env: {} }) };
}

describe('cluster-wide throttle', () => {
  it('holds a subject to its in-flight limit across two processes', async () => {
    const LIMIT = 2;
    const PER_DOMAIN = 4;
    const { fixture, configFor } = await twoDomains({ concurrency: 8, subjects: { 'Slow@Shop': { maxInFlight: LIMIT, scope: 'cluster' } } });
    const client = fixture.domains['client.example']!;
    let running = 0;
    let peak = 0;
    const entered = new Set<string>();
    const blocked: (() => void)[] = [];
    const settled: EnvelopeStatus[] = [];
    for (const domain of ['a.example', 'b.example']) {
      const runtime = await startMailroom(configFor(domain), {
        outboxWorker: false,
        handlers: {
          [domain]: {
            'Slow@Shop': async () => {
              running++;
              peak = Math.max(peak, running);
              entered.add(domain);
              await new Promise<void>((resolve) => blocked.push(resolve));
              running--;
              return { ok: true };
            },
          },
        },
      });
      runtime.events.on('settled', (s) => settled.push(s));
      runtimes.push(runtime);
    }
    const [a] = runtimes.slice(-2);
    for (let n = 0; n < PER_DOMAIN; n++) {
      for (const to of ['a.example', 'b.example']) expect((await a!.accept(JSON.stringify(client.sign({ To: to, Subject: 'Slow@Shop', Body: { n } })))).kind).toBe('accepted');
    }
    // Every envelope pulled by its process (so each process has some waiting on the throttle), two running.
    const names = createNames(fixture.prefix);
    const jsm = await jetstreamManager(nc);
    const pulled = async () => (await Promise.all(['a.example', 'b.example'].map((d) => jsm.consumers.info(names.streams.inbox, names.inboxDomainConsumer(d))))).every((i) => i.num_ack_pending === PER_DOMAIN);
    await waitFor(async () => running === LIMIT && (await pulled()), { what: 'two running, the rest pulled and waiting', timeoutMs: 20_000 });
    // Release them one at a time: each release lets exactly one more in, never a third at once.
    for (let done = 1; done <= 2 * PER_DOMAIN; done++) {
      blocked.shift()!();
      await waitFor(() => settled.filter((s) => s.final).length === done && running === Math.min(LIMIT, 2 * PER_DOMAIN - done), { what: `${done} settled`, timeoutMs: 20_000 });
      expect(peak).toBe(LIMIT);
    }
    expect(entered).toEqual(new Set(['a.example', 'b.example']));
    expect(settled.filter((s) => s.final).every((s) => s.state === 'replied' && s.attempt === 1)).toBe(true);
  });

  it("frees the slot of a process killed while it held it, once the lease runs out", async () => {
    const { fixture, inputFor, configFor } = await twoDomains({ ackWait: 1_500, subjects: { 'Hello@Host': { maxInFlight: 1, scope: 'cluster' } } });
    const client = fixture.domains['client.example']!;
    const holdDir = await mkdtemp(join(tmpdir(), 'mailroom-hold-'));
    const child = await startChildRuntime({ input: inputFor('a.example'), dir: fixture.dir, holdDir, outboxWorker: false });
    const local = await startMailroom(configFor('b.example'), { outboxWorker: false, handlers: { 'b.example': { 'Hello@Host': () => ({ ok: true }) } } });
    runtimes.push(local);
    const settled: EnvelopeStatus[] = [];
    local.events.on('settled', (s) => settled.push(s));
    try {
      expect((await local.accept(JSON.stringify(client.sign({ To: 'a.example', Subject: 'Hello@Host', Body: { hold: true } })))).kind).toBe('accepted');
      await waitFor(async () => (await readdir(holdDir)).length === 1, { what: 'the child holding the slot', timeoutMs: 20_000 });
      const names = createNames(fixture.prefix);
      const probe = new ClusterThrottle({ kv: await new Kvm(jetstream(nc)).open(names.throttleBucket), names, leaseMs: 1_500 });
      expect(await probe.leases('Hello@Host')).toBe(1);
      await child.kill('SIGKILL');
      // The next envelope of the subject (to the live process) waits for the dead process's lease to run out, then runs.
      expect((await local.accept(JSON.stringify(client.sign({ To: 'b.example', Subject: 'Hello@Host', Body: { n: 1 } })))).kind).toBe('accepted');
      const done = await waitFor(() => settled.find((s) => s.final && s.to === 'b.example'), { what: 'the envelope past the freed slot', timeoutMs: 20_000 });
      expect(done.state).toBe('replied');
    } finally {
      await child.kill('SIGKILL');
    }
  });
});

describe('ClusterThrottle', () => {
  it('shares a sender token bucket and expires a lease nobody renews (simulated clock)', async () => {
    let clock = 1_000_000;
    const now = () => clock;
    const names = createNames(`ct${Date.now().toString(36)}`);
    const other = await connectNats({ url: server.url });
    try {
      const one = await ClusterThrottle.open(jetstream(nc), names.throttleBucket, { names, leaseMs: 60_000, now });
      const two = await ClusterThrottle.open(jetstream(other), names.throttleBucket, { names, leaseMs: 60_000, now });
      // rate 1/s, burst 2: two tokens between both processes, then a wait of a second.
      expect(await one.takeToken('client.example', 1, 2)).toBe(0);
      expect(await two.takeToken('client.example', 1, 2)).toBe(0);
      expect(await one.takeToken('client.example', 1, 2)).toBe(1_000);
      clock += 1_000;
      expect(await two.takeToken('client.example', 1, 2)).toBe(0);

      // One slot, held by `one` and never renewed (its renewal is 20 s away): `two` gets it once the lease has passed.
      await one.acquireSlot('Slow@Shop', 1);
      expect(await two.leases('Slow@Shop')).toBe(1);
      let got = false;
      const waiting = two.acquireSlot('Slow@Shop', 1).then((release) => ((got = true), release));
      expect(got).toBe(false);
      clock += 60_001;
      const release = await waiting;
      expect(await two.leases('Slow@Shop')).toBe(1);
      release();
      await waitFor(async () => (await two.leases('Slow@Shop')) === 0, { what: 'the released slot' });
    } finally {
      await other.close();
    }
  });
});
