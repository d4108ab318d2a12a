/**
 * Dead-letter replay after `validation.maxAge` (issue 12, observation 8): the replayed envelope's
 * signature is verified again, its freshness window is not; its status says who replayed it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { headers } from '@nats-io/transport-node';
import { startNatsServer, type NatsServerHandle } from '../support/nats-server.ts';
import { makeDomain, makeFixture, type Fixture } from '../support/runtime-fixture.ts';
import { waitFor } from '../support/wait-for.ts';
import { connectNats } from '../../src/transport/connect.ts';
import { startMailroom } from '../../src/mailroom/start-mailroom.ts';
import type { Mailroom } from '../../src/core/mailroom-types.ts';
import { RetryableError } from '../../src/runtime/handlers.ts';
import { REPLAYED_BY_HEADER } from '../../src/runtime/envelope-runner.ts';
import { encodeEnvelope } from '../../src/envelope/index.ts';
import type { Envelope } from '../../src/envelope/types.ts';
import type { EnvelopeStatus } from '../../src/runtime/status-store.ts';

const MINUTE = 60_000;
let server: NatsServerHandle;
let fixture: Fixture;
let mailroom: Mailroom;
let healthy = false;
/** The runtime's clock runs this far ahead of the wall clock. */
let ahead = 0;
const settled: { status: EnvelopeStatus; envelope: Envelope | undefined }[] = [];

beforeAll(async () => {
  server = await startNatsServer();
  fixture = await makeFixture({
    natsUrl: server.url,
    local: ['shop.example', 'buffer.example'],
    remote: ['orders.example'],
    extra: {
      manifests: { 'orders.example': { feedback: 'buffer.example' } },
      validation: { maxAge: '15m', replayWindow: '1h' },
      delivery: { maxAttempts: 2, retry: { initialDelay: 20, maxDelay: 50 } },
    },
  });
  mailroom = await startMailroom(fixture.config, {
    handlers: {
      'shop.example': {
        'Pay@Shop': ({ body }) => {
          if (!healthy) throw new RetryableError('the payment service is down', 10);
          return { paid: body };
        },
      },
    },
    now: () => Date.now() + ahead,
    onError: () => undefined,
  });
  mailroom.events.on('settled', (status, envelope) => settled.push({ status, envelope }));
});
afterAll(async () => {
  await mailroom?.stop();
  await server?.stop();
});

const feedbackAbout = (correlation: string) =>
  settled.filter((s) => s.envelope?.Header.Subject === 'Feedback@Buffer' && (s.envelope.Body as { Correlation?: string }).Correlation === correlation);

async function deadLettered(request: Envelope): Promise<number> {
  expect((await mailroom.accept(encodeEnvelope(request))).kind).toBe('accepted');
  const letter = await waitFor(async () => (await mailroom.deadLetters.list()).find((l) => l.envelope.correlation === request.Header.Correlation), { what: 'the dead letter' });
  expect((await mailroom.status('orders.example', request.Header.Correlation))?.state).toBe('deadLettered');
  return letter.id;
}

describe('a dead letter replayed after validation.maxAge', () => {
  it('is handled and replied, without feedback; its status shows replayed, and by whom', async () => {
    healthy = false;
    ahead = 0;
    const request = fixture.domains['orders.example']!.sign({ To: 'shop.example', Subject: 'Pay@Shop', Body: { n: 1 } });
    const id = await deadLettered(request);
    // Twenty minutes later (past maxAge) the payment service is back; an operator replays.
    ahead = 20 * MINUTE;
    healthy = true;
    expect(await mailroom.deadLetters.replay(id, { by: 'token:ops' })).toMatchObject({ id });
    const status = await waitFor(async () => {
      const s = await mailroom.status('orders.example', request.Header.Correlation);
      return s?.state === 'replied' ? s : undefined;
    }, { what: 'replied after the replay' });
    const states = status.history.map((step) => step.state);
    expect(states).toContain('deadLettered');
    expect(states.indexOf('replayed')).toBeGreaterThan(states.indexOf('deadLettered'));
    expect(status.history.find((step) => step.state === 'replayed')).toMatchObject({ by: 'token:ops' });
    expect(status).toMatchObject({ verified: true, hash: request.Hash });
    expect(feedbackAbout(request.Header.Correlation)).toHaveLength(0);
    expect(await mailroom.deadLetters.get(id)).toBeUndefined();
  });

  it('names the replayer `api` when no one is given', async () => {
    healthy = false;
    ahead = 0;
    const request = fixture.domains['orders.example']!.sign({ To: 'shop.example', Subject: 'Pay@Shop', Body: { n: 2 } });
    const id = await deadLettered(request);
    healthy = true;
    await mailroom.deadLetters.replay(id);
    const status = await waitFor(async () => {
      const s = await mailroom.status('orders.example', request.Header.Correlation);
      return s?.state === 'replied' ? s : undefined;
    }, { what: 'replied after the replay' });
    expect(status.history.find((step) => step.state === 'replayed')).toMatchObject({ by: 'api' });
  });

  it('still has its signature verified: a forged, stale envelope marked as replayed is discarded as bad-signature, not handled', async () => {
    ahead = 20 * MINUTE;
    healthy = true;
    const forger = await makeDomain(fixture.dir, 'orders.forger', 'pw1');
    const genuine = fixture.domains['orders.example']!.sign({ To: 'shop.example', Subject: 'Pay@Shop', Body: { n: 3 } });
    const forged: Envelope = { ...genuine, Signature: forger.sign({ To: 'shop.example', Subject: 'Pay@Shop', Body: { n: 3 } }).Signature };
    const nc = await connectNats({ url: server.url });
    try {
      const h = headers();
      h.set(REPLAYED_BY_HEADER, 'someone');
      await nc.publish(mailroom.names.inboxSubject('shop.example', 'orders.example'), encodeEnvelope(forged), { headers: h });
      await nc.flush();
    } finally {
      await nc.close();
    }
    const status = await waitFor(() => settled.find((s) => s.envelope?.Signature === forged.Signature)?.status, { what: 'the forged copy settled' });
    expect(status.discard?.reason).toBe('bad-signature');
  });
});
