/**
 * A hung handler must not hang everything (issue 12, observation 6): a handler past its
 * subject's `handlerTimeout` fails the attempt as retryable (`handler-timeout`), its signal
 * is aborted, its concurrency slot is freed, its late result is ignored; and `stop()` waits
 * at most `stopGrace`, then aborts what still runs and hands its envelopes back at once.
 * Against a real nats-server; outcomes are asserted, never durations.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNatsServer, type NatsServerHandle } from '../support/nats-server.ts';
import { makeFixture, type Fixture } from '../support/runtime-fixture.ts';
import { waitFor } from '../support/wait-for.ts';
import { readStream } from '../support/stream-reads.ts';
import { startMailroom } from '../../src/mailroom/start-mailroom.ts';
import type { Mailroom } from '../../src/core/mailroom-types.ts';
import { connectNats } from '../../src/transport/connect.ts';
import { callHandler, handlerTimeoutFor, HandlerStoppedError, HandlerTimeoutError } from '../../src/runtime/handler-timeout.ts';
import type { Handler, HandlerResult } from '../../src/runtime/handlers.ts';
import type { EnvelopeStatus } from '../../src/runtime/status-store.ts';
import type { Envelope } from '../../src/envelope/types.ts';

let server: NatsServerHandle;
const started: Mailroom[] = [];
const start = async (...args: Parameters<typeof startMailroom>): Promise<Mailroom> => {
  const mailroom = await startMailroom(...args);
  started.push(mailroom);
  return mailroom;
};

beforeAll(async () => {
  server = await startNatsServer();
});
afterAll(async () => {
  for (const mailroom of started) await mailroom.stop();
  await server?.stop();
});

describe('callHandler', () => {
  const context = { envelope: {} as Envelope, from: 'orders.example', to: 'shop.example', subject: 'Order@Shop', correlation: 'c1', body: {}, attempt: 1, verified: true };
  /** Whether `promise` has settled once the callbacks queued so far have run. */
  const settledYet = async (promise: Promise<unknown>) => {
    let settled = false;
    promise.then(
      () => (settled = true),
      () => (settled = true),
    );
    await new Promise((resolve) => setImmediate(resolve));
    return settled;
  };

  it('passes the result through, with a signal that stays unaborted', async () => {
    let seen: AbortSignal | undefined;
    await expect(callHandler(({ signal }) => ((seen = signal), { ok: true }), context, { timeoutMs: 1_000 })).resolves.toEqual({ ok: true });
    expect(seen?.aborted).toBe(false);
  });

  it('rejects with what the handler throws, also synchronously', async () => {
    const boom = new Error('boom');
    const handler: Handler = () => {
      throw boom;
    };
    await expect(callHandler(handler, context, { timeoutMs: 1_000 })).rejects.toBe(boom);
  });

  it('past the timeout: rejects with a retryable handler-timeout, aborts the signal, and ignores the late result', async () => {
    let seen: AbortSignal | undefined;
    let finish: ((result: HandlerResult) => void) | undefined;
    const call = callHandler(({ signal }) => ((seen = signal), new Promise<HandlerResult>((resolve) => (finish = resolve))), context, { timeoutMs: 20 });
    const error = await call.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HandlerTimeoutError);
    expect(error).toMatchObject({ retryable: true, reason: 'handler-timeout', subject: 'Order@Shop', timeoutMs: 20 });
    expect(seen?.aborted).toBe(true);
    expect(seen?.reason).toBe(error);
    finish?.({ late: true });
    await expect(call).rejects.toBe(error);
  });

  it('on stop: aborts the signal with HandlerStoppedError and never settles, whatever the handler does next', async () => {
    const stop = new AbortController();
    let seen: AbortSignal | undefined;
    let finish: ((result: HandlerResult) => void) | undefined;
    const call = callHandler(({ signal }) => ((seen = signal), new Promise<HandlerResult>((resolve) => (finish = resolve))), context, { timeoutMs: 60_000, stop: stop.signal });
    stop.abort();
    expect(seen?.reason).toBeInstanceOf(HandlerStoppedError);
    finish?.({ late: true });
    expect(await settledYet(call)).toBe(false);
  });

  it('does not call the handler when the stop signal is already aborted', async () => {
    const stop = new AbortController();
    stop.abort();
    let called = false;
    const call = callHandler(() => ((called = true), undefined), context, { timeoutMs: 60_000, stop: stop.signal });
    expect(await settledYet(call)).toBe(false);
    expect(called).toBe(false);
  });

  it("takes the subject's own timeout, else the default", () => {
    const delivery = { handlerTimeoutMs: 5_000, subjects: { 'Report@Shop': { handlerTimeoutMs: 300_000 }, 'Pay@Shop': {} } };
    expect(handlerTimeoutFor(delivery, 'Report@Shop')).toBe(300_000);
    expect(handlerTimeoutFor(delivery, 'Pay@Shop')).toBe(5_000);
    expect(handlerTimeoutFor({}, 'Pay@Shop')).toBe(30_000);
  });
});

describe('a handler that runs past its timeout', () => {
  let fixture: Fixture;
  let mailroom: Mailroom;
  const settled: EnvelopeStatus[] = [];
  /** What each hung handler saw: its signal, and the abort reason once aborted. */
  const hung: { correlation: string; attempt: number; signal: AbortSignal; abortedWith?: unknown }[] = [];
  const lateResults: ((result: HandlerResult) => void)[] = [];
  const handled: string[] = [];
  const finalOf = (correlation: string) =>
    waitFor(() => settled.find((s) => s.correlation === correlation && s.final), { what: `the final status of ${correlation}` });

  beforeAll(async () => {
    fixture = await makeFixture({
      natsUrl: server.url,
      local: ['shop.example'],
      remote: ['orders.example'],
      extra: {
        delivery: {
          maxAttempts: 2,
          concurrency: 1,
          handlerTimeout: 200,
          retry: { initialDelay: 20, maxDelay: 50 },
          subjects: { 'Late@Shop': { maxAttempts: 1 }, 'Hello@Shop': { handlerTimeout: '1m' } },
        },
      },
    });
    mailroom = await start(fixture.config, {
      handlers: {
        'shop.example': {
          'Hang@Shop': ({ correlation, attempt, signal }) => {
            const seen: (typeof hung)[number] = { correlation, attempt, signal };
            hung.push(seen);
            signal.addEventListener('abort', () => (seen.abortedWith = signal.reason));
            return new Promise<never>(() => undefined);
          },
          'Late@Shop': () => new Promise<HandlerResult>((resolve) => lateResults.push(resolve)),
          'Hello@Shop': ({ correlation }) => {
            handled.push(correlation);
            return { hello: true };
          },
        },
      },
      outboxWorker: false,
      onError: () => undefined,
    });
    mailroom.events.on('settled', (status) => settled.push(status));
  });

  it('fails the attempt as retryable with handler-timeout, aborts its signal, and dead-letters it after the last attempt', async () => {
    const orders = fixture.domains['orders.example']!;
    const envelope = orders.sign({ To: 'shop.example', Subject: 'Hang@Shop', Body: {} });
    expect((await mailroom.accept(JSON.stringify(envelope))).kind).toBe('accepted');
    const correlation = envelope.Header.Correlation;

    const retrying = await waitFor(() => settled.find((s) => s.correlation === correlation && s.state === 'retrying'), { what: 'the first attempt retrying' });
    expect(retrying).toMatchObject({ attempt: 1, final: false, error: { state: 'handling', reason: 'handler-timeout' } });
    const first = hung.find((h) => h.correlation === correlation && h.attempt === 1);
    expect(first?.signal.aborted).toBe(true);
    expect(first?.abortedWith).toBeInstanceOf(HandlerTimeoutError);

    const final = await finalOf(correlation);
    expect(final).toMatchObject({ state: 'deadLettered', attempt: 2, deadLetter: { reason: 'max-attempts', lastState: 'handling', lastReason: 'handler-timeout' } });
    expect(hung.filter((h) => h.correlation === correlation).map((h) => [h.attempt, h.signal.aborted])).toEqual([
      [1, true],
      [2, true],
    ]);
    const letter = await waitFor(async () => (await mailroom.deadLetters.list()).find((l) => l.envelope?.correlation === correlation), { what: 'the dead letter' });
    expect(letter).toMatchObject({ reason: 'max-attempts', lastState: 'handling', lastReason: 'handler-timeout', attempts: 2 });
  });

  it('frees its concurrency slot: with concurrency 1, an envelope to another subject is handled after the hung one times out', async () => {
    const orders = fixture.domains['orders.example']!;
    const hang = orders.sign({ To: 'shop.example', Subject: 'Hang@Shop', Body: {} });
    await mailroom.accept(JSON.stringify(hang));
    // The hung handler holds the only slot before the second envelope arrives.
    await waitFor(() => hung.some((h) => h.correlation === hang.Header.Correlation), { what: 'the hung handler to start' });
    const hello = orders.sign({ To: 'shop.example', Subject: 'Hello@Shop', Body: {} });
    await mailroom.accept(JSON.stringify(hello));

    expect(await finalOf(hello.Header.Correlation)).toMatchObject({ state: 'replied' });
    expect(handled).toContain(hello.Header.Correlation);
    expect(await finalOf(hang.Header.Correlation)).toMatchObject({ state: 'deadLettered', deadLetter: { lastReason: 'handler-timeout' } });
  });

  it('ignores the late result of a timed-out handler: no reply is made for it', async () => {
    const orders = fixture.domains['orders.example']!;
    const late = orders.sign({ To: 'shop.example', Subject: 'Late@Shop', Body: {} });
    await mailroom.accept(JSON.stringify(late));
    expect(await finalOf(late.Header.Correlation)).toMatchObject({ state: 'deadLettered', attempt: 1, deadLetter: { lastReason: 'handler-timeout' } });
    expect(lateResults).toHaveLength(1);
    lateResults[0]!({ late: true });

    // A marker behind it: once its reply is in the outbox, a reply to the late result would be too.
    const marker = orders.sign({ To: 'shop.example', Subject: 'Hello@Shop', Body: {} });
    await mailroom.accept(JSON.stringify(marker));
    expect(await finalOf(marker.Header.Correlation)).toMatchObject({ state: 'replied' });
    const nc = await connectNats({ url: server.url, name: 'test-reader' });
    try {
      const outbox = await readStream<Envelope>(nc, mailroom.names.streams.outbox);
      expect(outbox.filter((e) => e.Header.Correlation === marker.Header.Correlation)).toHaveLength(1);
      expect(outbox.filter((e) => e.Header.Correlation === late.Header.Correlation)).toEqual([]);
    } finally {
      await nc.close();
    }
    expect(settled.filter((s) => s.correlation === late.Header.Correlation).map((s) => s.state)).toEqual(['deadLettered']);
  });
});

describe('stop() with a hung handler', () => {
  it('returns after the grace period, aborts the handler, and hands the envelope back at once to the next runtime', async () => {
    const fixture = await makeFixture({
      natsUrl: server.url,
      local: ['shop.example'],
      remote: ['orders.example'],
      // A long ack wait: the test would time out if the message were not naked at stop.
      extra: { delivery: { ackWait: '60s', handlerTimeout: '60s', stopGrace: 200 } },
    });
    const signals: AbortSignal[] = [];
    const first = await start(fixture.config, {
      handlers: {
        'shop.example': {
          'Hang@Shop': ({ signal }) => {
            signals.push(signal);
            return new Promise<never>(() => undefined);
          },
        },
      },
      http: false,
      outboxWorker: false,
      onError: () => undefined,
    });
    const firstSettled: EnvelopeStatus[] = [];
    first.events.on('settled', (status) => firstSettled.push(status));
    const envelope = fixture.domains['orders.example']!.sign({ To: 'shop.example', Subject: 'Hang@Shop', Body: {} });
    expect((await first.accept(JSON.stringify(envelope))).kind).toBe('accepted');
    await waitFor(() => signals.length === 1, { what: 'the hung handler to start' });

    await first.stop();
    expect(signals[0]!.aborted).toBe(true);
    expect(signals[0]!.reason).toBeInstanceOf(HandlerStoppedError);
    expect(firstSettled).toEqual([]);
    await first.stop(); // idempotent

    const secondSettled: EnvelopeStatus[] = [];
    const second = await start(fixture.config, {
      handlers: { 'shop.example': { 'Hang@Shop': ({ attempt }) => ({ handledOnAttempt: attempt }) } },
      http: false,
      outboxWorker: false,
      onError: () => undefined,
    });
    second.events.on('settled', (status) => secondSettled.push(status));
    const status = await waitFor(() => secondSettled.find((s) => s.correlation === envelope.Header.Correlation && s.final), {
      what: 'the second runtime to handle the handed-back envelope',
    });
    expect(status).toMatchObject({ state: 'replied' });
  });
});
