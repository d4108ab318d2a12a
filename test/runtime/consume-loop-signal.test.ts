/**
 * The consume loop's stop signal is one per loop, shared by every message it runs (issue 18:
 * an `AbortController` per message cost microseconds each). So whoever listens on it must
 * leave no listener behind, and it aborts only when `stop()` gives up on what still runs.
 * A handler's own signal is made when it first reads it, aborted with the reason even then.
 * Against a real nats-server; outcomes are asserted, never durations.
 */
import { getEventListeners } from 'node:events';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { jetstream, jetstreamManager, AckPolicy, type JsMsg } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { startNatsServer, type NatsServerHandle } from '../support/nats-server.ts';
import { waitFor } from '../support/wait-for.ts';
import { connectNats } from '../../src/transport/connect.ts';
import { startConsumeLoop } from '../../src/runtime/consume-loop.ts';
import { callHandler, HandlerStoppedError, HandlerTimeoutError } from '../../src/runtime/handler-timeout.ts';
import type { HandlerContext, HandlerResult } from '../../src/runtime/handlers.ts';
import type { Envelope } from '../../src/envelope/types.ts';

let server: NatsServerHandle;
let nc: NatsConnection;
let streams = 0;
const warnings: Error[] = [];
const onWarning = (warning: Error): void => void warnings.push(warning);

beforeAll(async () => {
  server = await startNatsServer();
  nc = await connectNats({ url: server.url, name: 'consume-loop-signal-test' });
});
afterAll(async () => {
  await nc?.close();
  await server?.stop();
});
beforeEach(() => {
  warnings.length = 0;
  process.on('warning', onWarning);
});
afterEach(() => {
  process.off('warning', onWarning);
});

/** A new stream with `count` messages and a durable consumer on it. */
async function filled(count: number) {
  const name = `SIGNAL${++streams}`;
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({ name, subjects: [`${name}.>`] });
  await jsm.consumers.add(name, { durable_name: 'loop', ack_policy: AckPolicy.Explicit });
  const js = jetstream(nc);
  for (let i = 0; i < count; i++) await js.publish(`${name}.${i}`, new Uint8Array([i]));
  return js.consumers.get(name, 'loop');
}

const context = { envelope: {} as Envelope, from: 'orders.example', to: 'shop.example', subject: 'Order@Shop', correlation: 'c1', body: {}, attempt: 1, verified: true };
const leakWarnings = () => warnings.filter((w) => w.name === 'MaxListenersExceededWarning');

describe('the stop signal of a consume loop', () => {
  it('is one for all its messages, leaves no listener behind, and is not aborted by a stop that finds the work done', async () => {
    const concurrency = 16;
    const seen = new Set<AbortSignal>();
    const releases: (() => void)[] = [];
    let done = 0;
    const loop = await startConsumeLoop(
      await filled(48),
      concurrency,
      async (msg, signal) => {
        seen.add(signal);
        // As a slot or a throttle lease waits: a listener on the shared signal while it waits, removed after.
        const onAbort = (): void => undefined;
        signal.addEventListener('abort', onAbort);
        await new Promise<void>((resolve) => releases.push(resolve));
        signal.removeEventListener('abort', onAbort);
        // As the envelope's handler is called: under the shared signal, reading its own.
        await callHandler(({ signal: own }) => ({ aborted: own.aborted }), context, { timeoutMs: 60_000, stop: signal });
        msg.ack();
        done++;
      },
      () => undefined,
    );
    try {
      await waitFor(() => releases.length === concurrency, { what: 'every slot at work, each waiting on the signal' });
      const [signal] = [...seen];
      expect(getEventListeners(signal!, 'abort')).toHaveLength(concurrency);
      while (done < 48) {
        releases.splice(0).forEach((release) => release());
        await new Promise((resolve) => setImmediate(resolve));
      }
      expect(seen.size).toBe(1);
      // What is left is the handler calls' one listener for all of them.
      expect(getEventListeners(signal!, 'abort').length).toBeLessThanOrEqual(1);
      expect(leakWarnings()).toEqual([]);
      await loop.stop();
      expect(signal!.aborted).toBe(false);
    } finally {
      await loop.stop();
    }
  });

  it("past the stop grace: aborts, so each handler still running sees a HandlerStoppedError, and naks their messages for another loop at once", async () => {
    const consumer = await filled(4);
    const stoppedWith: unknown[] = [];
    const first = await startConsumeLoop(
      consumer,
      4,
      async (_msg, signal) => {
        await callHandler(
          ({ signal: own }) => {
            own.addEventListener('abort', () => stoppedWith.push(own.reason));
            return new Promise<HandlerResult>(() => undefined);
          },
          context,
          { timeoutMs: 60_000, stop: signal },
        );
      },
      () => undefined,
      { stopGraceMs: 50 },
    );
    await waitFor(() => first.active() === 4, { what: 'four messages at work' });
    await first.stop();
    expect(stoppedWith).toHaveLength(4);
    for (const reason of stoppedWith) expect(reason).toBeInstanceOf(HandlerStoppedError);

    // Handed back at once: another loop gets all four well before the ack wait (30 s).
    const again: JsMsg[] = [];
    const second = await startConsumeLoop(
      consumer,
      4,
      async (msg) => {
        again.push(msg);
        msg.ack();
      },
      () => undefined,
    );
    try {
      await waitFor(() => again.length === 4, { what: 'the four messages delivered again' });
    } finally {
      await second.stop();
    }
  });
});

describe('callHandler under a shared stop signal', () => {
  it('adds one listener to it for all its calls, and aborts only the signals of the calls still running', async () => {
    const stop = new AbortController();
    for (let i = 0; i < 50; i++) await callHandler(() => ({ i }), context, { timeoutMs: 60_000, stop: stop.signal });
    expect(getEventListeners(stop.signal, 'abort')).toHaveLength(1);

    let finished: HandlerContext | undefined;
    await callHandler((c) => ((finished = c), undefined), context, { timeoutMs: 60_000, stop: stop.signal });
    const running: HandlerContext[] = [];
    for (let i = 0; i < 3; i++) void callHandler((c) => (running.push(c), new Promise<HandlerResult>(() => undefined)), context, { timeoutMs: 60_000, stop: stop.signal });
    expect(getEventListeners(stop.signal, 'abort')).toHaveLength(1);
    stop.abort();
    for (const c of running) {
      // Read only now, after the stop: made aborted, with the reason.
      expect(c.signal.aborted).toBe(true);
      expect(c.signal.reason).toBeInstanceOf(HandlerStoppedError);
    }
    expect(finished?.signal.aborted).toBe(false);
    expect(leakWarnings()).toEqual([]);
  });

  it('a signal first read after the timeout is already aborted with the HandlerTimeoutError the call rejected with', async () => {
    let later: HandlerContext | undefined;
    const error = await callHandler((c) => ((later = c), new Promise<HandlerResult>(() => undefined)), context, { timeoutMs: 20 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HandlerTimeoutError);
    expect(later?.signal.aborted).toBe(true);
    expect(later?.signal.reason).toBe(error);
  });

  it('gives the handler the fields of its context and a signal it can destructure or spread', async () => {
    let seen: HandlerContext | undefined;
    let signal: AbortSignal | undefined;
    let spread: HandlerContext | undefined;
    await callHandler((c) => ((seen = c), ({ signal } = c), (spread = { ...c }), undefined), context, { timeoutMs: 1_000 });
    expect(seen).toMatchObject(context);
    expect(signal).toBeInstanceOf(AbortSignal);
    expect(seen?.signal).toBe(signal);
    // A handler that passes `{ ...context }` on passes the same signal.
    expect(spread?.signal).toBe(signal);
    // Nothing of the call's own state is the handler's to see or call.
    expect(Object.keys(seen!).sort()).toEqual([...Object.keys(context), 'signal'].sort());
    expect(Object.getOwnPropertyNames(Object.getPrototypeOf(seen)).sort()).toEqual(['constructor']);
  });
});
