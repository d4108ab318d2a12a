/** Throttling: in flight per subject, rate per sender; envelopes over a limit wait, none is dropped. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNatsServer, type NatsServerHandle } from '../support/nats-server.ts';
import { makeFixture, type Fixture } from '../support/runtime-fixture.ts';
import { waitFor } from '../support/wait-for.ts';
import { startMailroom } from '../../src/mailroom/start-mailroom.ts';
import type { Mailroom } from '../../src/core/mailroom-types.ts';
import type { EnvelopeStatus } from '../../src/runtime/status-store.ts';

let server: NatsServerHandle;
let fixture: Fixture;
let mailroom: Mailroom;
const settled: EnvelopeStatus[] = [];
let running = 0;
let peak = 0;
const handledAt: { from: string; at: number }[] = [];

beforeAll(async () => {
  server = await startNatsServer();
  fixture = await makeFixture({
    natsUrl: server.url,
    local: ['shop.example'],
    remote: ['orders.example', 'other.example'],
    extra: { delivery: { concurrency: 32, subjects: { 'Slow@Shop': { maxInFlight: 2 } }, senderRate: { rate: 5, burst: 1 } } },
  });
  mailroom = await startMailroom(fixture.config, {
    outboxWorker: false,
    handlers: {
      'shop.example': {
        'Slow@Shop': async () => {
          running++;
          peak = Math.max(peak, running);
          await new Promise((resolve) => setTimeout(resolve, 40));
          running--;
          return null;
        },
        'Tick@Shop': ({ from }) => void handledAt.push({ from, at: Date.now() }),
      },
    },
  });
  mailroom.events.on('settled', (s) => settled.push(s));
});
afterAll(async () => {
  await mailroom?.stop();
  await server?.stop();
});

describe('throttling', () => {
  it('keeps a subject to its in-flight limit; the rest wait and are all handled, none redelivered', async () => {
    // Two senders, so the per-sender rate does not hide the subject limit.
    const envelopes = Array.from({ length: 10 }, (_, n) => fixture.domains[n % 2 ? 'orders.example' : 'other.example']!.sign({ To: 'shop.example', Subject: 'Slow@Shop', Body: { n } }));
    for (const e of envelopes) expect((await mailroom.accept(JSON.stringify(e))).kind).toBe('accepted');
    const finals = await waitFor(() => {
      const done = settled.filter((s) => s.subject === 'Slow@Shop' && s.final);
      return done.length === envelopes.length ? done : undefined;
    }, { timeoutMs: 20_000 });
    expect(peak).toBe(2);
    expect(finals.every((s) => s.state === 'replied' && s.attempt === 1)).toBe(true);
  });

  it('spreads one sender over time at its rate, without holding back another sender', async () => {
    handledAt.length = 0;
    const orders = fixture.domains['orders.example']!;
    for (let n = 0; n < 6; n++) await mailroom.accept(orders.signed({ To: 'shop.example', Subject: 'Tick@Shop', Body: { n } }));
    await mailroom.accept(fixture.domains['other.example']!.signed({ To: 'shop.example', Subject: 'Tick@Shop' }));
    await waitFor(() => handledAt.length === 7, { timeoutMs: 20_000 });
    const fromOrders = handledAt.filter((h) => h.from === 'orders.example').map((h) => h.at);
    // 5 a second with a burst of 1: six envelopes need at least five intervals of 200 ms.
    expect(fromOrders.at(-1)! - fromOrders[0]!).toBeGreaterThanOrEqual(5 * 200 - 50);
    const other = handledAt.find((h) => h.from === 'other.example')!;
    expect(other.at).toBeLessThan(fromOrders.at(-1)!);
  });
});
