/**
 * Dedupe only what is proven (issue 12, observation 4): an unverified envelope can neither block
 * the genuine one at ingress nor overwrite its status; a different verified envelope reusing a
 * claimed correlation is discarded with a named reason.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startNatsServer, type NatsServerHandle } from '../support/nats-server.ts';
import { makeDomain, makeFixture, type Fixture, type TestDomain } from '../support/runtime-fixture.ts';
import { waitFor } from '../support/wait-for.ts';
import { startMailroom } from '../../src/mailroom/start-mailroom.ts';
import type { Mailroom } from '../../src/core/mailroom-types.ts';
import { encodeEnvelope } from '../../src/envelope/index.ts';
import type { Envelope } from '../../src/envelope/types.ts';
import type { EnvelopeStatus } from '../../src/runtime/status-store.ts';

let server: NatsServerHandle;
let fixture: Fixture;
let mailroom: Mailroom;
let orders: TestDomain;
/** Someone else's key, claiming to be orders.example. */
let forger: TestDomain;
const settled: { status: EnvelopeStatus; envelope: Envelope | undefined }[] = [];
let handled = 0;

beforeAll(async () => {
  server = await startNatsServer();
  fixture = await makeFixture({
    natsUrl: server.url,
    local: ['shop.example', 'buffer.example'],
    remote: ['orders.example'],
    extra: {
      manifests: { 'orders.example': { feedback: 'buffer.example' } },
      validation: { replayWindow: '1h' },
      delivery: { maxAttempts: 3, retry: { initialDelay: 50, maxDelay: 200, multiplier: 2 } },
    },
  });
  orders = fixture.domains['orders.example']!;
  forger = await makeDomain(await mkdtemp(join(tmpdir(), 'mailroom-forger-')), 'orders.example', 'pw1');
  mailroom = await startMailroom(fixture.config, {
    handlers: {
      'shop.example': {
        'Hello@Host': ({ body }) => {
          handled++;
          return { echo: body };
        },
      },
    },
    onError: () => undefined,
  });
  mailroom.events.on('settled', (status, envelope) => settled.push({ status, envelope }));
});
afterAll(async () => {
  await mailroom?.stop();
  await server?.stop();
});

async function post(envelope: Envelope): Promise<{ status: number; duplicate: boolean }> {
  const res = await fetch(`${mailroom.url}/inbox`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: encodeEnvelope(envelope) });
  const answer = (await res.json()) as { duplicate?: boolean };
  return { status: res.status, duplicate: answer.duplicate === true };
}

/** The settled status of the envelope with this Hash (each copy is told apart by its Hash, or by its Signature). */
const settledOf = (envelope: Envelope) =>
  waitFor(() => settled.find((s) => s.envelope?.Hash === envelope.Hash && s.envelope.Signature === envelope.Signature)?.status, { what: `the envelope ${envelope.Hash} settled` });

const feedbackAbout = (correlation: string) =>
  settled.filter((s) => s.envelope?.Header.Subject === 'Feedback@Buffer' && (s.envelope.Body as { Correlation?: string }).Correlation === correlation);

describe('correlation squatting', () => {
  it('a forged copy posted first (same From, Correlation and Hash, forged signature) does not block the genuine envelope', async () => {
    const genuine = orders.sign({ To: 'shop.example', Subject: 'Hello@Host', Body: { n: 1 } });
    const forged: Envelope = { ...genuine, Signature: forger.sign({ To: 'shop.example', Subject: 'Hello@Host', Body: { n: 1 } }).Signature };
    expect(await post(forged)).toEqual({ status: 202, duplicate: false });
    expect((await settledOf(forged)).discard?.reason).toBe('bad-signature');

    expect(await post(genuine)).toEqual({ status: 202, duplicate: false });
    expect((await settledOf(genuine)).state).toBe('replied');
    expect(await mailroom.status('orders.example', genuine.Header.Correlation)).toMatchObject({ state: 'replied', verified: true, hash: genuine.Hash });
  });

  it('a forged envelope with the same From and Correlation and its own body posted first does not block the genuine one', async () => {
    const genuine = orders.sign({ To: 'shop.example', Subject: 'Hello@Host', Body: { n: 2 } });
    const forged = forger.sign({ To: 'shop.example', Subject: 'Hello@Host', Body: { n: 'forged' }, Correlation: genuine.Header.Correlation });
    expect(await post(forged)).toEqual({ status: 202, duplicate: false });
    expect((await settledOf(forged)).discard?.reason).toBe('bad-signature');
    const before = handled;
    expect(await post(genuine)).toEqual({ status: 202, duplicate: false });
    expect((await settledOf(genuine)).state).toBe('replied');
    expect(handled).toBe(before + 1);
  });

  it('a forged envelope posted after the genuine one never overwrites its status', async () => {
    const genuine = orders.sign({ To: 'shop.example', Subject: 'Hello@Host', Body: { n: 3 } });
    await post(genuine);
    await settledOf(genuine);
    const holder = await mailroom.status('orders.example', genuine.Header.Correlation);
    expect(holder).toMatchObject({ state: 'replied', verified: true });
    const forged = forger.sign({ To: 'shop.example', Subject: 'Hello@Host', Body: { n: 'late forgery' }, Correlation: genuine.Header.Correlation });
    expect((await post(forged)).status).toBe(202);
    expect((await settledOf(forged)).discard?.reason).toBe('bad-signature');
    expect(await mailroom.status('orders.example', genuine.Header.Correlation)).toEqual(holder);
  });

  it('a different validly signed envelope reusing a claimed correlation is discarded as correlation-reused, with feedback; the holder keeps its status', async () => {
    const genuine = orders.sign({ To: 'shop.example', Subject: 'Hello@Host', Body: { n: 4 } });
    await post(genuine);
    await settledOf(genuine);
    const holder = await mailroom.status('orders.example', genuine.Header.Correlation);
    const before = handled;
    const reuse = orders.sign({ To: 'shop.example', Subject: 'Hello@Host', Body: { n: 5 }, Correlation: genuine.Header.Correlation });
    expect(await post(reuse)).toEqual({ status: 202, duplicate: false });
    const status = await settledOf(reuse);
    expect(status).toMatchObject({ state: 'feedbackSent', discard: { reason: 'correlation-reused', source: 'validation' }, hash: reuse.Hash });
    expect(status.verified).toBeUndefined();
    expect(handled).toBe(before);
    const feedback = await waitFor(() => feedbackAbout(genuine.Header.Correlation)[0], { what: 'the feedback' });
    expect((feedback.envelope!.Body as { Reason: string }).Reason).toBe('Correlation reused by a different envelope.');
    expect(await mailroom.status('orders.example', genuine.Header.Correlation)).toEqual(holder);
  });
});
