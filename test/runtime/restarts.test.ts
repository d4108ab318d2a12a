/** State that patterns hold across a restart of the runtime: an envelope in backoff, a dead letter replayed; per-subject retry policy. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNatsServer, type NatsServerHandle } from '../support/nats-server.ts';
import { makeFixture, type Fixture } from '../support/runtime-fixture.ts';
import { waitFor } from '../support/wait-for.ts';
import { startMailroom } from '../../src/mailroom/start-mailroom.ts';
import type { MailroomOptions } from '../../src/core/mailroom-types.ts';
import { RetryableError } from '../../src/runtime/handlers.ts';

let server: NatsServerHandle;
let fixture: Fixture;
let payDown = true;
const calls: { subject: string; attempt: number }[] = [];

beforeAll(async () => {
  server = await startNatsServer();
  fixture = await makeFixture({
    natsUrl: server.url,
    local: ['shop.example'],
    remote: ['orders.example'],
    extra: { delivery: { maxAttempts: 5, retry: { initialDelay: 20, maxDelay: 50 }, subjects: { 'Pay@Shop': { maxAttempts: 2 }, 'Ship@Shop': { retry: { initialDelay: '1500ms', maxDelay: '2s' } } } } },
  });
});
afterAll(async () => {
  await server?.stop();
});

const options = (): MailroomOptions => ({
  outboxWorker: false,
  onError: () => undefined,
  handlers: {
    'shop.example': {
      'Pay@Shop': ({ attempt }) => {
        calls.push({ subject: 'Pay@Shop', attempt });
        if (payDown) throw new RetryableError('the payment service is down');
        return { paid: true };
      },
      'Ship@Shop': ({ attempt }) => {
        calls.push({ subject: 'Ship@Shop', attempt });
        if (attempt === 1) throw new RetryableError('the carrier is down');
        return { shipped: true };
      },
    },
  },
});

describe('across a restart', () => {
  it('an envelope in backoff is retried by the next runtime, as its next attempt', async () => {
    const first = await startMailroom(fixture.config, options());
    const envelope = fixture.domains['orders.example']!.sign({ To: 'shop.example', Subject: 'Ship@Shop' });
    await first.accept(JSON.stringify(envelope));
    // Ship@Shop backs off 1.5 s: stop while it waits in the stream.
    const backingOff = await waitFor(async () => {
      const s = await first.status('orders.example', envelope.Header.Correlation);
      return s?.state === 'retrying' ? s : undefined;
    });
    expect(backingOff.retryDelayMs).toBe(1_500);
    await first.stop();
    const second = await startMailroom(fixture.config, options());
    try {
      const done = await waitFor(async () => {
        const s = await second.status('orders.example', envelope.Header.Correlation);
        return s?.final ? s : undefined;
      }, { timeoutMs: 10_000 });
      expect(done).toMatchObject({ state: 'replied', attempt: 2 });
      expect(done.history.map((h) => h.state)).toEqual(['received', 'queued', 'validating', 'handling', 'retrying', 'validating', 'handling', 'replying', 'replied']);
    } finally {
      await second.stop();
    }
  });

  it('a subject with its own maxAttempts is dead-lettered after those; replayed by the next runtime, it is handled', async () => {
    const first = await startMailroom(fixture.config, options());
    const envelope = fixture.domains['orders.example']!.sign({ To: 'shop.example', Subject: 'Pay@Shop' });
    await first.accept(JSON.stringify(envelope));
    const letter = await waitFor(async () => (await first.deadLetters.list()).find((l) => l.envelope.correlation === envelope.Header.Correlation));
    expect(letter.attempts).toBe(2);
    expect(calls.filter((c) => c.subject === 'Pay@Shop').map((c) => c.attempt)).toEqual([1, 2]);
    await first.stop();

    payDown = false;
    const second = await startMailroom(fixture.config, options());
    try {
      expect(await second.deadLetters.replay(letter.id)).toMatchObject({ id: letter.id });
      const done = await waitFor(async () => {
        const s = await second.status('orders.example', envelope.Header.Correlation);
        return s?.state === 'replied' ? s : undefined;
      });
      expect(done.attempt).toBe(1);
      expect(await second.deadLetters.get(letter.id)).toBeUndefined();
    } finally {
      await second.stop();
    }
  });
});
