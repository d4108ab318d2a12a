/**
 * Exactly one reply per envelope when a runtime dies mid-batch. A real runtime (a child process)
 * handles `Order@Host` with a batch handler from its config's handlers module; its NATS user
 * cannot ack inbox messages, so every envelope it handled is delivered again. A first batch
 * (A, B) is replied to; a second (C, D) blocks in the batch handler until the test acts, and the
 * runtime is killed (SIGKILL) then. A second runtime gets all four again: A and B are settled by
 * their recorded status without running the handler, C and D are handled again and replied to.
 * Every envelope has exactly one reply.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:http';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { startNatsServer, type NatsServerHandle } from '../support/nats-server.ts';
import { natsUsersConfig, urlAs, type TestUser } from '../support/nats-users.ts';
import { makeFixture, type Fixture } from '../support/runtime-fixture.ts';
import { readHolds, releaseHolds, startChildRuntime, type ChildRuntime } from '../support/child-runtime.ts';
import { waitFor } from '../support/wait-for.ts';
import { readStatuses } from '../support/stream-reads.ts';
import { connectNats } from '../../src/transport/connect.ts';
import { createNames, type Names } from '../../src/transport/names.ts';
import { encodeEnvelope } from '../../src/envelope/index.ts';
import type { Envelope } from '../../src/envelope/types.ts';

const PREFIX = 'bkill';
const names: Names = createNames(PREFIX);
const admin: TestUser = { user: 'admin', password: 'admin-pw' };
/** Takes inbox messages but can never ack them: whatever it handled comes back. */
const noAck: TestUser = { user: 'noack', password: 'noack-pw', denyPublish: [`$JS.ACK.${names.streams.inbox}.>`] };

/**
 * The batch handler, as a handlers module: a marker `<pid>.<correlation>.<attempt>` per item it
 * is called with; a batch holding an item with `hold: true` blocks until `<holdDir>/release` exists.
 */
const handlersModule = (holdDir: string) => `
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
const dir = ${JSON.stringify(holdDir)};
export default {
  'Order@Host': async (items) => {
    for (const item of items) await writeFile(join(dir, process.pid + '.' + item.correlation + '.' + item.attempt), '');
    if (items.some((item) => item.body.hold === true)) while (!existsSync(join(dir, 'release'))) await new Promise((resolve) => setTimeout(resolve, 20));
    return items.map((item) => ({ n: item.body.n, pid: process.pid, batchOf: items.length }));
  },
};
`;

let server: NatsServerHandle;
let nc: NatsConnection;
let jsm: JetStreamManager;
let partner: Server;
let partnerUrl: string;
const replies: Envelope[] = [];

beforeAll(async () => {
  const dir = await mkdtemp(join(tmpdir(), 'mailroom-bkill-'));
  server = await startNatsServer({ args: await natsUsersConfig(dir, [admin, noAck]) });
  nc = await connectNats({ url: urlAs(server.url, admin) });
  jsm = await jetstreamManager(nc);
  partner = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      if (req.url === '/partner') replies.push(JSON.parse(body) as Envelope);
      res.writeHead(202).end();
    });
  });
  await new Promise<void>((resolve) => partner.listen(0, '127.0.0.1', () => resolve()));
  partnerUrl = `http://127.0.0.1:${(partner.address() as { port: number }).port}`;
});
afterAll(async () => {
  partner?.close();
  await nc?.close();
  await server?.stop();
});

const repliesTo = (correlation: string) => replies.filter((r) => r.Header.Correlation === correlation);

/** Nothing waits in the inbox or in the outbox any more: every message there was acked. */
async function drained(): Promise<boolean> {
  for (const [stream, consumer] of [[names.streams.inbox, names.consumers.inbox], [names.streams.outbox, names.consumers.outbox]] as const) {
    const info = await jsm.consumers.info(stream, consumer);
    if (info.num_pending > 0 || info.num_ack_pending > 0) return false;
  }
  return true;
}

async function post(url: string, envelope: Envelope): Promise<number> {
  const res = await fetch(`${url}/inbox`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: encodeEnvelope(envelope) });
  return res.status;
}

describe('a runtime killed while its batch handler is blocked', () => {
  let fixture: Fixture;
  let holdDir: string;
  const runtimes: ChildRuntime[] = [];
  afterAll(async () => {
    for (const runtime of runtimes) await runtime.kill('SIGKILL');
  });

  it('redelivers the batch; the replied envelopes are not handled again; every envelope gets exactly one reply', async () => {
    fixture = await makeFixture({ natsUrl: server.url, local: ['shop.example'], remote: ['partner.example'] });
    holdDir = join(fixture.dir, 'holds');
    await mkdir(holdDir);
    const modulePath = join(fixture.dir, 'batch-handlers.mjs');
    await writeFile(modulePath, handlersModule(holdDir));
    const inputAs = (user: TestUser) => ({
      ...fixture.input,
      nats: { url: urlAs(server.url, user), prefix: PREFIX },
      domains: (fixture.input.domains as Record<string, unknown>[]).map((d) => ({ ...d, handlers: modulePath })),
      directory: { 'partner.example': `${partnerUrl}/partner` },
      validation: { replayWindow: '1h' },
      delivery: {
        ackWait: '2s',
        maxAttempts: 10,
        retry: { initialDelay: 50, maxDelay: 500 },
        subjects: { 'Order@Host': { batch: { maxSize: 2, maxWait: '20s' } } },
      },
      outbox: { maxAttempts: 5, retry: { initialDelay: 50, maxDelay: 200, multiplier: 2 } },
    });
    const partnerDomain = fixture.domains['partner.example']!;
    const order = (n: number, hold: boolean) => partnerDomain.sign({ To: 'shop.example', Subject: 'Order@Host', Body: { n, hold } });
    const [a, b, c, d] = [order(1, false), order(2, false), order(3, true), order(4, true)] as const;
    const correlationOf = (e: Envelope) => e.Header.Correlation;

    const first = await startChildRuntime({ input: inputAs(noAck), dir: fixture.dir }, 'first');
    runtimes.push(first);
    // The first batch (A, B) is replied to; its inbox messages stay unacked.
    for (const e of [a, b]) expect(await post(first.url, e)).toBe(202);
    await waitFor(() => repliesTo(correlationOf(a)).length === 1 && repliesTo(correlationOf(b)).length === 1, { what: 'the replies to A and B', timeoutMs: 30_000 });
    await waitFor(async () => (await jsm.streams.info(names.streams.outbox)).state.messages === 0, { what: 'the outbox consumed' });
    // The second batch (C, D) blocks in the batch handler.
    for (const e of [c, d]) expect(await post(first.url, e)).toBe(202);
    await waitFor(async () => {
      const held = (await readHolds(holdDir)).filter((h) => h.pid === first.pid).map((h) => h.correlation);
      return held.includes(correlationOf(c)) && held.includes(correlationOf(d));
    }, { what: 'C and D held in the batch handler', timeoutMs: 30_000 });
    expect((await jsm.consumers.info(names.streams.inbox, names.consumers.inbox)).num_ack_pending).toBe(4);
    await first.kill('SIGKILL');
    expect(repliesTo(correlationOf(c))).toEqual([]);
    expect(repliesTo(correlationOf(d))).toEqual([]);

    await releaseHolds(holdDir);
    const second = await startChildRuntime({ input: inputAs(admin), dir: fixture.dir }, 'second');
    runtimes.push(second);
    await waitFor(async () => repliesTo(correlationOf(c)).length >= 1 && repliesTo(correlationOf(d)).length >= 1 && (await drained()), {
      what: 'C and D replied by the second runtime, everything acked',
      timeoutMs: 60_000,
    });

    for (const e of [a, b, c, d]) expect(repliesTo(correlationOf(e))).toHaveLength(1);
    expect(repliesTo(correlationOf(c))[0]!.Body).toMatchObject({ n: 3, pid: second.pid });
    expect(repliesTo(correlationOf(d))[0]!.Body).toMatchObject({ n: 4, pid: second.pid });
    const holds = await readHolds(holdDir);
    const calledFor = (e: Envelope) => holds.filter((h) => h.correlation === correlationOf(e));
    // A and B: handled once, by the first runtime; their redeliveries were settled by their status.
    for (const e of [a, b]) expect(calledFor(e).map((h) => [h.pid, h.attempt])).toEqual([[first.pid, 1]]);
    // C and D: handled by both; the second time on a later attempt.
    for (const e of [c, d]) {
      expect(calledFor(e).filter((h) => h.pid === first.pid).map((h) => h.attempt)).toEqual([1]);
      expect(calledFor(e).filter((h) => h.pid === second.pid).every((h) => h.attempt > 1)).toBe(true);
      expect(calledFor(e).some((h) => h.pid === second.pid)).toBe(true);
    }
    const statuses = await readStatuses(nc, names.buckets.status);
    for (const e of [a, b, c, d]) {
      expect(statuses.find((s) => s.correlation === correlationOf(e))).toMatchObject({ state: 'replied', final: true, verified: true, hash: e.Hash });
    }
  }, 150_000);
});
