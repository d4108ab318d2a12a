/**
 * `mailroom/testing`: test your workflows against a real, ephemeral Mailroom, the way
 * Temporal's time-skipping test environment works. {@link createTestMailroom} starts a
 * nats-server of its own (random port, temporary store, removed on `stop()`), generates keys
 * for the domains you name, and starts a runtime whose clock is a {@link TestClock}: durable
 * delays (`after`, delayed `raise`) come due when you `advance()` the clock, not when the wall
 * clock says so.
 *
 * @example
 * ```ts
 * import { createTestMailroom } from 'mailroom/testing';
 * const t = await createTestMailroom({ workflows: [{ machine: orderSaga }] });
 * await t.mailroom.workflows.start('order', { amount: 12 }, { id: 'o-1' });
 * await t.advance('15m'); // the payment timeout fires
 * expect((await t.mailroom.workflows.get('o-1'))?.state).toBe('cancelled');
 * await t.stop();
 * ```
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import type { NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { spawnNatsServer, type NatsServerProcess } from '../transport/spawn-nats-server.ts';
import { connectNats } from '../transport/connect.ts';
import { CONNECTION_NAMES, DUE_HEADER } from '../transport/names.ts';
import { parseConfig } from '../config/index.ts';
import { parseDuration } from '../config/index.ts';
import { generateDomainKeys } from '../keys/index.ts';
import type { Mailroom, MailroomOptions } from '../core/mailroom-types.ts';
import { startMailroom } from '../mailroom/start-mailroom.ts';
import { MailroomError } from '../errors.ts';

/** A clock you move by hand. Starts at the wall clock's now (or `start`) and never moves alone. */
export class TestClock {
  #now: number;
  constructor(start: number = Date.now()) {
    this.#now = start;
  }
  /** The clock's time, epoch ms. Pass `clock.now` as a function: it is bound. */
  readonly now = (): number => this.#now;
  /** Moves the clock forward by `ms` (or a duration like `'15m'`). */
  advanceBy(ms: number | string): number {
    const step = typeof ms === 'string' ? parseDuration(ms) : ms;
    if (!Number.isFinite(step) || step < 0) throw new RangeError(`the clock only moves forward; got ${String(ms)}`);
    this.#now += step;
    return this.#now;
  }
  /** Sets the clock to `time` (epoch ms), not earlier than it is. */
  set(time: number): void {
    if (time < this.#now) throw new RangeError('the clock only moves forward');
    this.#now = time;
  }
}

/** Timers that did not all fire within `advance`'s time limit. */
export class TestClockSettleError extends MailroomError {
  readonly _tag = 'TestClockSettleError';
  constructor(readonly pending: number) {
    super(`${pending} due timer(s) or task(s) still pending after advance() waited; an activity may hang`);
  }
}

/** Options of {@link createTestMailroom}: everything `startMailroom` takes but the clock, plus the test's domains and config. */
export interface TestMailroomOptions extends Omit<MailroomOptions, 'now' | 'timerMaxWaitMs'> {
  /** Domains hosted by the test runtime (default `['test.example']`); keys are generated. */
  readonly domains?: readonly string[];
  /** More config, merged over the test defaults (http off unless `http: true` is passed in options). */
  readonly config?: Record<string, unknown>;
  /** The clock (default: a new {@link TestClock} at the wall clock's now). */
  readonly clock?: TestClock;
  /** Use this NATS server instead of starting one (its streams get a unique prefix). */
  readonly natsUrl?: string;
}

/** A started test runtime. */
export interface TestMailroom {
  readonly mailroom: Mailroom;
  readonly clock: TestClock;
  readonly natsUrl: string;
  /** The temporary folder (keys, nats store); removed by `stop()`. */
  readonly dir: string;
  /**
   * Moves the clock forward and waits until every durable timer and task due by then has run
   * (delays fired, activities finished, including those that the fired ones started).
   */
  advance(by: number | string, options?: { readonly timeoutMs?: number }): Promise<void>;
  /** Waits until no timer or task is due (no clock move). */
  settle(options?: { readonly timeoutMs?: number }): Promise<void>;
  /** Stops the runtime and the nats-server, and removes the temporary folder. */
  stop(): Promise<void>;
}

/** Starts an ephemeral nats-server and a runtime on a {@link TestClock}. */
export async function createTestMailroom(options: TestMailroomOptions = {}): Promise<TestMailroom> {
  const dir = await mkdtemp(join(tmpdir(), 'mailroom-testkit-'));
  const clock = options.clock ?? new TestClock();
  let server: NatsServerProcess | undefined;
  let nc: NatsConnection | undefined;
  let mailroom: Mailroom | undefined;
  const cleanup = async () => {
    await mailroom?.stop().catch(() => undefined);
    await nc?.close().catch(() => undefined);
    await server?.stop().catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  };
  try {
    let natsUrl = options.natsUrl;
    if (natsUrl === undefined) {
      server = await spawnNatsServer({ args: ['-js', '-sd', join(dir, 'nats'), '-a', '127.0.0.1', '-p', '-1'], readyTimeoutMs: 30_000 });
      natsUrl = server.url;
    }
    const domains = options.domains ?? ['test.example'];
    const entries = [];
    for (const name of domains) {
      const keys = generateDomainKeys(name, 'test');
      const path = join(dir, `${name}.pem`);
      await writeFile(path, keys.privateKeyPem, { mode: 0o600 });
      entries.push({ name, selector: 'test', privateKey: path });
    }
    const prefix = `test${randomUUID().slice(0, 8)}`;
    const config = parseConfig(
      { nats: { url: natsUrl, prefix }, http: { port: 0 }, domains: entries, delivery: { ackWait: '2s' }, ...options.config },
      { baseDir: dir, env: {} },
    );
    const { domains: _d, config: _c, clock: _k, natsUrl: _n, ...rest } = options;
    mailroom = await startMailroom(config, { http: false, onError: () => undefined, ...rest, now: clock.now, timerMaxWaitMs: 25 });
    nc = await connectNats({ url: natsUrl, name: CONNECTION_NAMES.testkit });
    const jsm = await jetstreamManager(nc);
    const running = mailroom;
    const settle = async (timeoutMs = 10_000) => {
      const deadline = Date.now() + timeoutMs;
      let quiet = 0;
      for (;;) {
        const now = clock.now();
        const pending = (await dueTimers(jsm, running.names.streams.timers, now)) + (await dueTimers(jsm, running.names.streams.tasks, now));
        // Twice in a row: a timer that just fired may have scheduled another one due now.
        quiet = pending === 0 ? quiet + 1 : 0;
        if (quiet >= 2) return;
        if (Date.now() > deadline) throw new TestClockSettleError(pending);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    };
    return {
      mailroom,
      clock,
      natsUrl,
      dir,
      advance: async (by, advanceOptions) => {
        clock.advanceBy(by);
        await settle(advanceOptions?.timeoutMs);
      },
      settle: (settleOptions) => settle(settleOptions?.timeoutMs),
      stop: cleanup,
    };
  } catch (error) {
    await cleanup();
    throw error;
  }
}

/** How many timer messages (timers, activity tasks) are due at `now`: the timers stream is a work queue, so it holds only those not yet done. */
async function dueTimers(jsm: JetStreamManager, stream: string, now: number): Promise<number> {
  const info = await jsm.streams.info(stream);
  if (info.state.messages === 0) return 0;
  let due = 0;
  for (let seq = info.state.first_seq; seq <= info.state.last_seq; seq++) {
    try {
      const msg = await jsm.streams.getMessage(stream, { seq });
      if (!msg) continue;
      if (Number(msg.header.get(DUE_HEADER) || 0) <= now) due++;
    } catch {
      // Acked (deleted) since the info was read.
    }
  }
  return due;
}
