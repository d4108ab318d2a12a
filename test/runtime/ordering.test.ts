/**
 * Ordering per key: envelopes of one sender are handled one at a time in arrival order,
 * across retries and across two processes; different senders in parallel.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNatsServer, type NatsServerHandle } from '../support/nats-server.ts';
import { makeFixture } from '../support/runtime-fixture.ts';
import { waitFor } from '../support/wait-for.ts';
import { startMailroom } from '../../src/mailroom/start-mailroom.ts';
import type { Mailroom, MailroomOptions } from '../../src/core/mailroom-types.ts';
import { RetryableError } from '../../src/runtime/handlers.ts';
import { partitionOf } from '../../src/runtime/ordering.ts';

let server: NatsServerHandle;
const runtimes: Mailroom[] = [];

beforeAll(async () => {
  server = await startNatsServer();
});
afterAll(async () => {
  for (const r of runtimes) await r.stop();
  await server?.stop();
});

const PARTITIONS = 4;
// Two senders in different partitions, so they can run side by side.
const senders = ['a.example', 'b.example', 'c.example', 'd.example', 'e.example'];
const first = senders[0]!;
const second = senders.find((s) => partitionOf(s, PARTITIONS) !== partitionOf(first, PARTITIONS))!;

describe('ordering per sender', () => {
  it('handles each sender in arrival order, one at a time, across a retry and two processes', async () => {
    const fixture = await makeFixture({
      natsUrl: server.url,
      local: ['shop.example'],
      remote: [first, second],
      extra: { delivery: { concurrency: 16, ordering: { by: 'sender', partitions: PARTITIONS }, retry: { initialDelay: 100, maxDelay: 200 } } },
    });
    const log: { from: string; n: number; at: number; phase: 'start' | 'end' }[] = [];
    let failedOnce = false;
    const options = (): MailroomOptions => ({
      outboxWorker: false,
      onError: () => undefined,
      handlers: {
        'shop.example': {
          'Step@Shop': async ({ from, body }) => {
            const n = (body as { n: number }).n;
            log.push({ from, n, at: Date.now(), phase: 'start' });
            if (from === first && n === 3 && !failedOnce) {
              failedOnce = true;
              throw new RetryableError('not yet', 150);
            }
            await new Promise((resolve) => setTimeout(resolve, 5 + Math.random() * 20));
            log.push({ from, n, at: Date.now(), phase: 'end' });
            return null;
          },
        },
      },
    });
    runtimes.push(await startMailroom(fixture.config, options()), await startMailroom(fixture.config, options()));
    const count = 12;
    for (let n = 0; n < count; n++) {
      for (const sender of [first, second]) {
        const result = await runtimes[n % 2]!.accept(fixture.domains[sender]!.signed({ To: 'shop.example', Subject: 'Step@Shop', Body: { n } }));
        expect(result.kind).toBe('accepted');
      }
    }
    await waitFor(() => log.filter((l) => l.phase === 'end').length === 2 * count, { what: 'every step handled', timeoutMs: 30_000 });

    for (const sender of [first, second]) {
      const ends = log.filter((l) => l.from === sender && l.phase === 'end').map((l) => l.n);
      expect(ends).toEqual(Array.from({ length: count }, (_, n) => n));
      // One at a time: start n, end n, start n+1, ... (the first sender's failed first try of 3 aside).
      const events = log.filter((l) => l.from === sender);
      const failed = sender === first ? events.findIndex((l) => l.n === 3 && l.phase === 'start') : -1;
      const sequence = events.filter((_, i) => i !== failed).map((l) => `${l.phase} ${l.n}`);
      expect(sequence).toEqual(Array.from({ length: count }, (_, n) => [`start ${n}`, `end ${n}`]).flat());
    }
    // The retry of the first sender's step 3 held back its step 4...
    const retryStart = log.filter((l) => l.from === first && l.n === 3 && l.phase === 'start')[1]!;
    const step4 = log.find((l) => l.from === first && l.n === 4 && l.phase === 'start')!;
    expect(step4.at).toBeGreaterThanOrEqual(retryStart.at);
    // ...but not the other sender, whose steps went on meanwhile.
    const failedAt = log.find((l) => l.from === first && l.n === 3 && l.phase === 'start')!.at;
    expect(log.some((l) => l.from === second && l.phase === 'end' && l.at > failedAt && l.at < retryStart.at)).toBe(true);
  }, 60_000);
});
