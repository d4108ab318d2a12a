/**
 * Batch handlers in a running Mailroom, against a real nats-server: registered from the config (a
 * handlers module, `delivery.subjects.<subject>.batch`) and in code (`batchHandler`); flushed by
 * size and by time; each envelope settled by its own result (reply, discard, retry), or every
 * envelope of a batch failed by a thrown error. Outcomes are asserted, never durations: a batch
 * that must flush by size waits minutes otherwise, so only a size flush can finish the test.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startNatsServer, type NatsServerHandle } from '../support/nats-server.ts';
import { makeFixture, type Fixture } from '../support/runtime-fixture.ts';
import { waitFor } from '../support/wait-for.ts';
import { readStream } from '../support/stream-reads.ts';
import { startMailroom } from '../../src/mailroom/start-mailroom.ts';
import { parseConfig } from '../../src/config/index.ts';
import type { Mailroom } from '../../src/core/mailroom-types.ts';
import { connectNats } from '../../src/transport/connect.ts';
import { batchHandler } from '../../src/runtime/batch-handler.ts';
import type { BatchHandler } from '../../src/runtime/batch-types.ts';
import { FinalError, RetryableError } from '../../src/runtime/handlers.ts';
import type { EnvelopeStatus } from '../../src/runtime/status-store.ts';
import type { Envelope, JsonValue } from '../../src/envelope/types.ts';

const LONG_WAIT = '5m';

let server: NatsServerHandle;
let fixture: Fixture;
let mailroom: Mailroom;
const settled: EnvelopeStatus[] = [];
/** Each batch call per subject: the items' correlations and attempts. */
const calls: Record<string, { correlation: string; attempt: number }[][]> = {};

const record = (subject: string, items: Parameters<BatchHandler>[0]) => (calls[subject] ??= []).push(items.map(({ correlation, attempt }) => ({ correlation, attempt })));
const callsOf = (subject: string) => (calls[subject] ?? []).map((call) => call.map((item) => item.correlation));

/** orders.example names no feedback buffer: a discarded envelope ends `noFeedback`, with its discard. */
const finalOf = (correlation: string) => waitFor(() => settled.find((s) => s.correlation === correlation && s.final), { what: `the final status of ${correlation}`, timeoutMs: 20_000 });

async function send(subject: string, bodies: readonly JsonValue[]): Promise<string[]> {
  const orders = fixture.domains['orders.example']!;
  const correlations: string[] = [];
  for (const body of bodies) {
    const envelope = orders.sign({ To: 'shop.example', Subject: subject, Body: body as Envelope['Body'] });
    expect((await mailroom.accept(JSON.stringify(envelope))).kind).toBe('accepted');
    correlations.push(envelope.Header.Correlation);
  }
  return correlations;
}

/** The replies in the outbox to the envelope with `correlation`. */
async function repliesTo(correlation: string): Promise<Envelope[]> {
  const nc = await connectNats({ url: server.url, name: 'test-reader' });
  try {
    return (await readStream<Envelope>(nc, mailroom.names.streams.outbox)).filter((e) => e.Header.Correlation === correlation && e.Header.To === 'orders.example');
  } finally {
    await nc.close();
  }
}

/** A handlers module as the config names it: plain functions; the config makes `Size@Shop` a batch subject. */
const MODULE = `
export default {
  'Size@Shop': (items) => {
    (globalThis.__batchModuleCalls ??= []).push(items.map((item) => item.correlation));
    return items.map((item) => ({ batchOf: items.length, n: item.body.n }));
  },
};
`;

beforeAll(async () => {
  server = await startNatsServer();
  fixture = await makeFixture({
    natsUrl: server.url,
    local: ['shop.example'],
    remote: ['orders.example'],
    extra: {
      delivery: {
        handlerTimeout: '10m',
        maxAttempts: 3,
        retry: { initialDelay: 20, maxDelay: 50 },
        subjects: {
          'Size@Shop': { batch: { maxSize: 3, maxWait: LONG_WAIT } },
          'Time@Shop': { batch: { maxSize: 50, maxWait: 200 } },
          'Mixed@Shop': { batch: { maxSize: 3, maxWait: 300 } },
          'Throw@Shop': { batch: { maxSize: 2, maxWait: 300 } },
          'Refuse@Shop': { batch: { maxSize: 2, maxWait: 300 } },
          // The config's maxSize wins over the code's; the code's maxWait stays.
          'Tuned@Shop': { batch: { maxSize: 2 } },
        },
      },
    },
  });
  const modulePath = join(fixture.dir, 'batch-handlers.mjs');
  await writeFile(modulePath, MODULE);
  const input = { ...fixture.input, domains: (fixture.input.domains as Record<string, unknown>[]).map((d) => ({ ...d, handlers: modulePath })) };
  const config = parseConfig(input, { baseDir: fixture.dir, env: {} });

  const time: BatchHandler = (items) => (record('Time@Shop', items), items.map((item) => ({ batchOf: items.length, n: (item.body as { n: number }).n })));
  const mixed: BatchHandler = (items) => {
    record('Mixed@Shop', items);
    return items.map(({ body, attempt }) => {
      const kind = (body as { kind: string }).kind;
      if (kind === 'discard') return new FinalError('out of stock', 'out-of-stock');
      if (kind === 'fail' && attempt === 1) return new RetryableError('warehouse busy');
      return { kind, attempt };
    });
  };
  const throwing: BatchHandler = (items) => {
    record('Throw@Shop', items);
    if (items.some((item) => item.attempt === 1)) throw new Error('database down');
    return items.map((item) => ({ attempt: item.attempt }));
  };
  const refusing: BatchHandler = (items) => {
    record('Refuse@Shop', items);
    throw new FinalError('the shop is closed', 'shop-closed');
  };
  const tuned: BatchHandler = (items) => (record('Tuned@Shop', items), items.map(() => ({ tuned: true })));
  mailroom = await startMailroom(config, {
    handlers: {
      'shop.example': {
        'Time@Shop': time as never,
        'Mixed@Shop': mixed as never,
        'Throw@Shop': throwing as never,
        'Refuse@Shop': refusing as never,
        'Tuned@Shop': batchHandler(tuned, { maxSize: 50, maxWaitMs: 5 * 60_000 }),
      },
    },
    http: false,
    outboxWorker: false,
    onError: () => undefined,
  });
  mailroom.events.on('settled', (status) => settled.push(status));
});
afterAll(async () => {
  await mailroom?.stop();
  await server?.stop();
});

describe('batch handlers in a running Mailroom', () => {
  it('config registration, size flush: a handlers module function for a batch subject gets the envelopes in one call; each is replied to with its own result', async () => {
    const correlations = await send('Size@Shop', [{ n: 1 }, { n: 2 }, { n: 3 }]);
    for (const correlation of correlations) expect(await finalOf(correlation)).toMatchObject({ state: 'replied', subject: 'Size@Shop', attempt: 1 });
    const moduleCalls = (globalThis as { __batchModuleCalls?: string[][] }).__batchModuleCalls;
    expect(moduleCalls).toHaveLength(1);
    expect([...moduleCalls![0]!].sort()).toEqual([...correlations].sort());
    for (const [i, correlation] of correlations.entries()) {
      const replies = await repliesTo(correlation);
      expect(replies.map((r) => [r.Header.Subject, r.Body])).toEqual([['Reply@Size@Shop', { batchOf: 3, n: i + 1 }]]);
    }
  });

  it('time flush: fewer envelopes than maxSize are handed over once the first has waited maxWait', async () => {
    const correlations = await send('Time@Shop', [{ n: 1 }, { n: 2 }, { n: 3 }]);
    for (const correlation of correlations) expect(await finalOf(correlation)).toMatchObject({ state: 'replied', attempt: 1 });
    const handled = callsOf('Time@Shop');
    expect(handled.flat().sort()).toEqual([...correlations].sort());
    for (const call of handled) expect(call.length).toBeLessThan(50);
  });

  it('per-item results: one envelope replied, one discarded with its reason, one failed and retried alone until replied', async () => {
    const [reply, discard, fail] = await send('Mixed@Shop', [{ kind: 'reply' }, { kind: 'discard' }, { kind: 'fail' }]);
    expect(await finalOf(reply!)).toMatchObject({ state: 'replied', attempt: 1 });
    expect((await repliesTo(reply!)).map((r) => r.Body)).toEqual([{ kind: 'reply', attempt: 1 }]);

    expect(await finalOf(discard!)).toMatchObject({ state: 'noFeedback', discard: { reason: 'out-of-stock', detail: 'out of stock', source: 'handler' } });
    expect(await repliesTo(discard!)).toEqual([]);

    expect(await finalOf(fail!)).toMatchObject({ state: 'replied', attempt: 2 });
    expect(settled.find((s) => s.correlation === fail && s.state === 'retrying')).toMatchObject({ attempt: 1, error: { message: 'warehouse busy', state: 'handling' } });
    expect((await repliesTo(fail!)).map((r) => r.Body)).toEqual([{ kind: 'fail', attempt: 2 }]);
    // The retry went through a later batch of its own; the others were handled once.
    const handled = (calls['Mixed@Shop'] ?? []).flat();
    expect(handled.filter((item) => item.correlation === fail).map((item) => item.attempt)).toEqual([1, 2]);
    expect(handled.filter((item) => item.correlation === reply)).toHaveLength(1);
    expect(handled.filter((item) => item.correlation === discard)).toHaveLength(1);
  });

  it('a thrown error fails every envelope of the batch; each is retried per the policy', async () => {
    const correlations = await send('Throw@Shop', [{ n: 1 }, { n: 2 }]);
    for (const correlation of correlations) {
      expect(await finalOf(correlation)).toMatchObject({ state: 'replied', attempt: 2 });
      expect(settled.find((s) => s.correlation === correlation && s.state === 'retrying')).toMatchObject({ attempt: 1, error: { message: 'database down' } });
      expect((await repliesTo(correlation)).map((r) => r.Body)).toEqual([{ attempt: 2 }]);
    }
    const firstAttempts = (calls['Throw@Shop'] ?? []).flat().filter((item) => item.attempt === 1);
    expect(firstAttempts.map((item) => item.correlation).sort()).toEqual([...correlations].sort());
  });

  it('a thrown FinalError discards every envelope of the batch, with its reason', async () => {
    const correlations = await send('Refuse@Shop', [{ n: 1 }, { n: 2 }]);
    for (const correlation of correlations) {
      expect(await finalOf(correlation)).toMatchObject({ state: 'noFeedback', attempt: 1, discard: { reason: 'shop-closed', source: 'handler' } });
      expect(await repliesTo(correlation)).toEqual([]);
    }
  });

  it("code registration: mailroom.handle with batchHandler batches by its options (a size flush; the wait is minutes)", async () => {
    const code: BatchHandler = (items) => (record('Code@Shop', items), items.map((item) => ({ fromCode: item.correlation })));
    mailroom.handle('shop.example', 'Code@Shop', batchHandler(code, { maxSize: 2, maxWaitMs: 5 * 60_000 }));
    const correlations = await send('Code@Shop', [{ n: 1 }, { n: 2 }]);
    for (const correlation of correlations) {
      expect(await finalOf(correlation)).toMatchObject({ state: 'replied' });
      expect((await repliesTo(correlation)).map((r) => r.Body)).toEqual([{ fromCode: correlation }]);
    }
    expect(callsOf('Code@Shop').map((call) => [...call].sort())).toEqual([[...correlations].sort()]);
  });

  it("the config's batch settings win over the code's: maxSize 2 from the config, not 50", async () => {
    const correlations = await send('Tuned@Shop', [{ n: 1 }, { n: 2 }]);
    for (const correlation of correlations) expect(await finalOf(correlation)).toMatchObject({ state: 'replied' });
    expect(callsOf('Tuned@Shop').map((call) => [...call].sort())).toEqual([[...correlations].sort()]);
  });

  it('a code registration that cannot fill is refused with a ConfigError', () => {
    expect(() => mailroom.handle('shop.example', 'Huge@Shop', batchHandler(() => [], { maxSize: 1_000 }))).toThrow(/delivery\.concurrency/);
  });
});

describe('stop() while envelopes gather for a batch', () => {
  it('hands them back at the grace period without calling the batch handler; the next runtime handles them', async () => {
    const slow = { 'Slow@Shop': { batch: { maxSize: 5, maxWait: LONG_WAIT } } };
    const own = await makeFixture({
      natsUrl: server.url,
      local: ['shop.example'],
      remote: ['orders.example'],
      // A long ack wait: the test would time out if the message were not naked at stop.
      extra: { delivery: { ackWait: '60s', handlerTimeout: '10m', stopGrace: 200, subjects: slow } },
    });
    const seen: string[][] = [];
    const run: BatchHandler = (items) => (seen.push(items.map((item) => item.correlation)), items.map((item) => ({ attempt: item.attempt })));
    const options = { handlers: { 'shop.example': { 'Slow@Shop': batchHandler(run) } }, http: false, outboxWorker: false, onError: () => undefined };
    const first = await startMailroom(own.config, options);
    const handling: string[] = [];
    first.events.on('transition', (t) => t.state === 'handling' && handling.push(t.correlation));
    const envelope = own.domains['orders.example']!.sign({ To: 'shop.example', Subject: 'Slow@Shop', Body: {} });
    expect((await first.accept(JSON.stringify(envelope))).kind).toBe('accepted');
    await waitFor(() => handling.includes(envelope.Header.Correlation), { what: 'the envelope gathering for its batch' });
    await first.stop();
    expect(seen).toEqual([]);

    // The next runtime batches one at a time: the handed-back envelope is handled at once.
    const config = parseConfig({ ...own.input, delivery: { ackWait: '60s', subjects: { 'Slow@Shop': { batch: { maxSize: 1 } } } } }, { baseDir: own.dir, env: {} });
    const second = await startMailroom(config, options);
    try {
      const statuses: EnvelopeStatus[] = [];
      second.events.on('settled', (status) => statuses.push(status));
      const status = await waitFor(() => statuses.find((s) => s.correlation === envelope.Header.Correlation && s.final), { what: 'the handed-back envelope handled', timeoutMs: 20_000 });
      expect(status).toMatchObject({ state: 'replied' });
      expect(seen).toEqual([[envelope.Header.Correlation]]);
    } finally {
      await second.stop();
    }
  });
});
