/**
 * Exactly one reply across kills and nats-server restarts (issue 12, observation 3).
 *
 * The state "the reply went out, the inbox message was never acked" is made deterministically:
 * the first runtime connects as a NATS user denied `$JS.ACK.<inbox stream>.>`, so its acks never
 * land. It is killed with SIGKILL once its reply was delivered and consumed from the outbox; then
 * nats-server restarts, which makes the work-queue outbox forget the reply's `Nats-Msg-Id`. A
 * second runtime gets the inbox message again.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { startNatsServer, type NatsServerHandle } from '../support/nats-server.ts';
import { natsUsersConfig, urlAs, type TestUser } from '../support/nats-users.ts';
import { makeFixture, type Fixture } from '../support/runtime-fixture.ts';
import { startChildRuntime, type ChildRuntime } from '../support/child-runtime.ts';
import { waitFor } from '../support/wait-for.ts';
import { readStatuses } from '../support/stream-reads.ts';
import { connectNats } from '../../src/transport/connect.ts';
import { createNames, type Names } from '../../src/transport/names.ts';
import { encodeEnvelope } from '../../src/envelope/index.ts';
import type { Envelope } from '../../src/envelope/types.ts';
import type { EnvelopeStatus } from '../../src/runtime/status-store.ts';

const PREFIX = 'eor';
const names: Names = createNames(PREFIX);
const admin: TestUser = { user: 'admin', password: 'admin-pw' };
/** Takes inbox messages but can never ack (nor nak, nor mark in progress) them. */
const noAck: TestUser = { user: 'noack', password: 'noack-pw', denyPublish: [`$JS.ACK.${names.streams.inbox}.>`] };
/** Like noAck, and cannot write envelope statuses either: the reply goes out, nothing records it. */
const noAckNoStatus: TestUser = { user: 'nostatus', password: 'nostatus-pw', denyPublish: [`$JS.ACK.${names.streams.inbox}.>`, `$KV.${names.buckets.status}.>`] };

interface Received {
  readonly path: string;
  readonly body: string;
  readonly headers: IncomingHttpHeaders;
}

let server: NatsServerHandle;
let nc: NatsConnection;
let jsm: JetStreamManager;
let partner: Server;
let partnerUrl: string;
const received: Received[] = [];

beforeAll(async () => {
  const dir = await mkdtemp(join(tmpdir(), 'mailroom-eor-'));
  server = await startNatsServer({ args: await natsUsersConfig(dir, [admin, noAck, noAckNoStatus]) });
  nc = await connectNats({ url: urlAs(server.url, admin) });
  jsm = await jetstreamManager(nc);
  partner = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      received.push({ path: req.url ?? '', body, headers: req.headers });
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

/** One runtime hosting shop.example; partner.example's inbox and its feedback buffer are the local HTTP server. */
function fixtureAs(user: TestUser): Promise<Fixture> {
  return makeFixture({
    natsUrl: server.url,
    local: ['shop.example'],
    remote: ['partner.example'],
    extra: {
      nats: { url: urlAs(server.url, user), prefix: PREFIX },
      directory: { 'partner.example': `${partnerUrl}/partner`, 'buffer.example': `${partnerUrl}/buffer` },
      manifests: { 'partner.example': { feedback: 'buffer.example' } },
      validation: { replayWindow: '1h' },
      delivery: { ackWait: '2s', maxAttempts: 10, retry: { initialDelay: 50, maxDelay: 500 } },
      outbox: { maxAttempts: 5, retry: { initialDelay: 50, maxDelay: 200, multiplier: 2 } },
    },
  });
}

const asUser = (fixture: Fixture, user: TestUser) => ({ ...fixture.input, nats: { url: urlAs(server.url, user), prefix: PREFIX } });

const repliesTo = (correlation: string) => received.filter((r) => r.path === '/partner' && (JSON.parse(r.body) as Envelope).Header.Correlation === correlation);
const feedbackAbout = (correlation: string) => received.filter((r) => r.path === '/buffer' && r.body.includes(correlation));

async function statusOf(correlation: string): Promise<EnvelopeStatus | undefined> {
  return (await readStatuses(nc, names.buckets.status)).find((s) => s.from === 'partner.example' && s.correlation === correlation);
}

/** Nothing waits in the inbox or in the outbox any more: every message there was acked. */
async function drained(): Promise<boolean> {
  for (const [stream, consumer] of [[names.streams.inbox, names.consumers.inbox], [names.streams.outbox, names.consumers.outbox]] as const) {
    const info = await jsm.consumers.info(stream, consumer);
    if (info.num_pending > 0 || info.num_ack_pending > 0) return false;
  }
  return true;
}

async function post(url: string, body: string): Promise<{ status: number; duplicate: boolean }> {
  const res = await fetch(`${url}/inbox`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  const answer = (await res.json()) as { duplicate?: boolean };
  return { status: res.status, duplicate: answer.duplicate === true };
}

/** Runs the first runtime as `user` until the reply to `request` was delivered and consumed; then SIGKILL and a nats-server restart. */
async function answeredThenKilled(fixture: Fixture, user: TestUser, request: Envelope): Promise<void> {
  const first = await startChildRuntime({ input: asUser(fixture, user), dir: fixture.dir }, 'first');
  let killed = false;
  try {
    expect(await post(first.url, encodeEnvelope(request))).toEqual({ status: 202, duplicate: false });
    await waitFor(() => repliesTo(request.Header.Correlation).length === 1, { what: 'the reply delivered', timeoutMs: 20_000 });
    // Consumed from the work-queue outbox: that is what nats-server forgets across a restart.
    await waitFor(async () => (await jsm.streams.info(names.streams.outbox)).state.messages === 0, { what: 'the outbox consumed' });
    // The inbox message was never acked.
    expect((await jsm.consumers.info(names.streams.inbox, names.consumers.inbox)).num_ack_pending).toBe(1);
    await first.kill('SIGKILL');
    killed = true;
  } finally {
    if (!killed) await first.kill('SIGKILL');
  }
  await server.restart();
}

describe('exactly one reply across a SIGKILL and a nats-server restart', () => {
  it('a redelivered envelope whose reply went out before the restart produces no second reply; its status stays replied; no feedback', async () => {
    const fixture = await fixtureAs(noAck);
    const request = fixture.domains['partner.example']!.sign({ To: 'shop.example', Subject: 'Hello@Host', Body: { n: 1 } });
    const correlation = request.Header.Correlation;
    await answeredThenKilled(fixture, noAck, request);
    const before = await waitFor(() => statusOf(correlation), { what: 'the status' });
    expect(before).toMatchObject({ state: 'replied', final: true, verified: true, hash: request.Hash });

    let second: ChildRuntime | undefined;
    try {
      second = await startChildRuntime({ input: asUser(fixture, admin), dir: fixture.dir }, 'second');
      await waitFor(drained, { what: 'the redelivered envelope settled', timeoutMs: 20_000 });
      expect(repliesTo(correlation)).toHaveLength(1);
      expect(await statusOf(correlation)).toEqual(before);

      // Re-posted after another restart (the inbox forgot its ID too): accepted as new, answered by nothing.
      await server.restart();
      const repost = await waitFor(async () => {
        const answer = await post(second!.url, encodeEnvelope(request)).catch(() => undefined);
        return answer?.status === 202 ? answer : undefined;
      }, { what: 'the re-post accepted' });
      expect(repost.duplicate).toBe(false);
      await waitFor(async () => (await jsm.streams.info(names.streams.inbox)).state.last_seq >= 2 && (await drained()), { what: 'the re-post settled', timeoutMs: 20_000 });
      expect(repliesTo(correlation)).toHaveLength(1);
      expect(feedbackAbout(correlation)).toHaveLength(0);
      expect(await statusOf(correlation)).toEqual(before);
    } finally {
      await second?.kill('SIGTERM');
    }
  }, 120_000);

  it('a reply made again (its status was never written) is the stored bytes: byte-identical, same Idempotency-Key, never re-signed', async () => {
    const fixture = await fixtureAs(noAckNoStatus);
    const request = fixture.domains['partner.example']!.sign({ To: 'shop.example', Subject: 'Hello@Host', Body: { n: 2 } });
    const correlation = request.Header.Correlation;
    await answeredThenKilled(fixture, noAckNoStatus, request);
    // Nothing recorded it: the first runtime could not write statuses.
    const { status } = await waitFor(async () => ({ status: await statusOf(correlation) }), { what: 'the status bucket readable after the restart' });
    expect(status?.final).not.toBe(true);

    let second: ChildRuntime | undefined;
    try {
      second = await startChildRuntime({ input: asUser(fixture, admin), dir: fixture.dir }, 'second');
      // The handler runs again (at-least-once) in another process, so its output differs; the reply does not.
      await waitFor(async () => (await statusOf(correlation))?.state === 'replied' && (await drained()), { what: 'replied by the second runtime', timeoutMs: 20_000 });
      const replies = repliesTo(correlation);
      expect(replies).toHaveLength(2);
      for (const reply of replies) {
        expect(reply.body).toBe(replies[0]!.body);
        expect(reply.headers['idempotency-key']).toBe(`reply/partner.example/${correlation}`);
      }
      expect(feedbackAbout(correlation)).toHaveLength(0);
    } finally {
      await second?.kill('SIGTERM');
    }
  }, 120_000);
});
