/**
 * The runtime end to end, against a real nats-server started for this file:
 * inbox → JetStream → one envelope actor → reply or feedback.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { startNatsServer, type NatsServerHandle } from '../support/nats-server.ts';
import { makeFixture, type Fixture } from '../support/runtime-fixture.ts';
import { waitFor } from '../support/wait-for.ts';
import { startMailroom } from '../../src/mailroom/start-mailroom.ts';
import type { Mailroom } from '../../src/core/mailroom-types.ts';
import type { EnvelopeStatus } from '../../src/runtime/status-store.ts';
import type { EnvelopeTransition } from '../../src/runtime/envelope-runner.ts';
import type { Envelope } from '../../src/envelope/types.ts';
import { encodeEnvelope, verifyEnvelopeText } from '../../src/envelope/index.ts';
import { connectNats } from '../../src/transport/connect.ts';
import { FinalError, RetryableError } from '../../src/runtime/handlers.ts';

let server: NatsServerHandle;
let fixture: Fixture;
let mailroom: Mailroom;
const settled: { status: EnvelopeStatus; envelope: Envelope | undefined }[] = [];

const post = (body: string, type = 'application/json') =>
  fetch(`${mailroom.url}/inbox`, { method: 'POST', headers: { 'content-type': type }, body });

const settledFor = (from: string, correlation: string) => settled.filter((s) => s.status.from === from && s.status.correlation === correlation);
const finalOf = (from: string, correlation: string) =>
  waitFor(() => settledFor(from, correlation).find((s) => s.status.final)?.status, { what: `final state of ${from}/${correlation}` });

beforeAll(async () => {
  server = await startNatsServer();
  fixture = await makeFixture({
    natsUrl: server.url,
    local: ['shop.example', 'orders.example', 'buffer.example'],
    remote: ['stranger.example', 'quiet.example'],
    feedback: { 'orders.example': 'buffer.example' },
    extra: {
      manifests: { 'stranger.example': { feedback: 'buffer.example' } },
      validation: { maxSkew: '1m', maxAge: '10m', replayWindow: '1h' },
      delivery: { maxAttempts: 3, retry: { initialDelay: 50, maxDelay: 200, multiplier: 2 } },
    },
  });
  mailroom = await startMailroom(fixture.config, {
    handlers: {
      'shop.example': {
        'Hello@Host': ({ from, body }) => ({ text: `hello ${from}`, echo: body }),
        'Refuse@Host': () => {
          throw new FinalError('not today', 'refused');
        },
        'Flaky@Host': ({ attempt }) => {
          if (attempt < 2) throw new RetryableError('try again', 10);
          return { attempt };
        },
        'Broken@Host': () => {
          throw new RetryableError('always down', 10);
        },
      },
    },
  });
  mailroom.events.on('settled', (status, envelope) => settled.push({ status, envelope }));
});

afterAll(async () => {
  await mailroom?.stop();
  await server?.stop();
});

describe('a valid envelope', () => {
  it('is accepted with 202, replied to, and the reply reaches the sender and verifies with the replier key', async () => {
    const orders = fixture.domains['orders.example']!;
    const envelope = orders.sign({ To: 'shop.example', Subject: 'Hello@Host', Body: { text: 'hi' } });
    const res = await post(encodeEnvelope(envelope));
    expect(res.status).toBe(202);
    const answer = (await res.json()) as { correlation: string; state: string; status: string };
    expect(answer).toMatchObject({ correlation: envelope.Header.Correlation, state: 'queued' });
    // A capability status URL: readable without the admin token (test/http/security.test.ts).
    expect(answer.status).toBe(`${mailroom.url}/status/orders.example/${envelope.Header.Correlation}/${encodeURIComponent(envelope.Hash)}/${answer.status.split('/').pop()}`);

    const request = await finalOf('orders.example', envelope.Header.Correlation);
    expect(request.state).toBe('replied');
    expect(request.history.map((h) => h.state)).toEqual(['received', 'queued', 'validating', 'handling', 'replying', 'replied']);
    expect(request.replyCorrelation).toBe(envelope.Header.Correlation);

    // The reply is an envelope from shop.example to orders.example, handled by orders.example's own actor.
    // No conversation of orders.example waits for it (the request was not sent through `request`), so it
    // is no answer: with no handler for its subject, it is discarded like any unknown subject.
    const reply = await waitFor(() => settledFor('shop.example', envelope.Header.Correlation).find((s) => s.status.final));
    expect(reply.status).toMatchObject({ state: 'noFeedback', discard: { reason: 'unknown-subject' } });
    expect(reply.envelope?.Header).toMatchObject({ From: 'shop.example', To: 'orders.example', Subject: 'Reply@Hello@Host' });
    expect(reply.envelope?.Body).toEqual({ text: 'hello orders.example', echo: { text: 'hi' } });
    const verified = verifyEnvelopeText(encodeEnvelope(reply.envelope!), fixture.domains['shop.example']!.publicKey);
    expect(verified.ok).toBe(true);
    const wrongKey = verifyEnvelopeText(encodeEnvelope(reply.envelope!), orders.publicKey);
    expect(wrongKey.ok).toBe(false);

    // The status API agrees.
    const status = (await (await fetch(answer.status)).json()) as EnvelopeStatus;
    expect(status.state).toBe('replied');
  });

  it('accepts YAML', async () => {
    const orders = fixture.domains['orders.example']!;
    const envelope = orders.sign({ To: 'shop.example', Subject: 'Hello@Host', Body: { text: 'yaml' } });
    const yaml = `Header:\n${Object.entries(envelope.Header).map(([k, v]) => `  ${k}: "${v}"`).join('\n')}\nBody:\n  text: yaml\nHash: ${envelope.Hash}\nSignature: "${envelope.Signature}"\n`;
    const res = await post(yaml, 'application/yaml');
    expect(res.status).toBe(202);
    expect((await finalOf('orders.example', envelope.Header.Correlation)).state).toBe('replied');
  });

  it('posted twice makes one actor and one reply', async () => {
    const orders = fixture.domains['orders.example']!;
    const text = orders.signed({ To: 'shop.example', Subject: 'Hello@Host', Body: { text: 'twice' } });
    const correlation = (JSON.parse(text) as Envelope).Header.Correlation;
    const first = await post(text);
    const second = await post(text);
    expect(first.status).toBe(202);
    expect(second.status).toBe(202);
    expect(((await second.json()) as { duplicate: boolean }).duplicate).toBe(true);
    await finalOf('orders.example', correlation);
    await waitFor(() => settledFor('shop.example', correlation).length > 0);
    // Let anything extra that would arrive do so: a third, later envelope settles after it.
    const marker = orders.sign({ To: 'shop.example', Subject: 'Hello@Host' });
    await post(encodeEnvelope(marker));
    await waitFor(() => settledFor('shop.example', marker.Header.Correlation).length > 0);
    expect(settledFor('orders.example', correlation)).toHaveLength(1);
    expect(settledFor('shop.example', correlation)).toHaveLength(1);
  });
});

describe('discards', () => {
  const feedbackFor = (correlation: string) =>
    settled.filter((s) => s.envelope?.Header.Subject === 'Feedback@Buffer' && (s.envelope.Body as { Correlation?: string }).Correlation === correlation);

  async function discarded(from: string, correlation: string) {
    const status = await finalOf(from, correlation);
    expect(status.history.map((h) => h.state)).toContain('discarded');
    return status;
  }

  it('unknown subject: discarded, and feedback reaches the buffer domain named in the manifest', async () => {
    const orders = fixture.domains['orders.example']!;
    const envelope = orders.sign({ To: 'shop.example', Subject: 'Nope@Host' });
    expect((await post(encodeEnvelope(envelope))).status).toBe(202);
    const status = await discarded('orders.example', envelope.Header.Correlation);
    expect(status.state).toBe('feedbackSent');
    expect(status.discard).toMatchObject({ reason: 'unknown-subject', source: 'validation' });
    const feedback = await waitFor(() => feedbackFor(envelope.Header.Correlation)[0]);
    expect(feedback.envelope?.Header).toMatchObject({ From: 'shop.example', To: 'buffer.example' });
    expect(feedback.envelope?.Body).toEqual({ Sender: 'orders.example', Correlation: envelope.Header.Correlation, Status: 'Discarded', Reason: 'Unknown subject.' });
    // No conversation of orders.example is about it: at buffer.example it is no answer, and has no handler.
    expect(feedback.status).toMatchObject({ state: 'noFeedback', discard: { reason: 'unknown-subject' } });
  });

  it('a sender without a feedback buffer gets no feedback', async () => {
    const quiet = fixture.domains['quiet.example']!;
    const envelope = quiet.sign({ To: 'shop.example', Subject: 'Nope@Host' });
    await post(encodeEnvelope(envelope));
    const status = await discarded('quiet.example', envelope.Header.Correlation);
    expect(status.state).toBe('noFeedback');
    expect(feedbackFor(envelope.Header.Correlation)).toHaveLength(0);
  });

  const cases: [string, (c: Fixture) => string, string][] = [
    ['hash-mismatch', (c) => { const e = c.domains['stranger.example']!.sign({ To: 'shop.example', Subject: 'Hello@Host', Body: { a: 1 } }); return encodeEnvelope({ ...e, Body: { a: 2 } }); }, 'stranger.example'],
    ['bad-signature', (c) => { const e = c.domains['stranger.example']!.sign({ To: 'shop.example', Subject: 'Hello@Host' }); const other = c.domains['quiet.example']!.sign({ To: 'shop.example', Subject: 'Hello@Host', Correlation: e.Header.Correlation, Timestamp: e.Header.Timestamp }); return encodeEnvelope({ ...e, Signature: other.Signature }); }, 'stranger.example'],
    ['key-not-found', (c) => encodeEnvelope({ ...c.domains['stranger.example']!.sign({ To: 'shop.example', Subject: 'Hello@Host' }), Header: { ...c.domains['stranger.example']!.sign({ To: 'shop.example', Subject: 'Hello@Host' }).Header, Selector: 'nokey' } }), 'stranger.example'],
    ['not-addressed-to-us', (c) => c.domains['stranger.example']!.signed({ To: 'elsewhere.example', Subject: 'Hello@Host' }), 'stranger.example'],
    ['stale-timestamp', (c) => c.domains['stranger.example']!.signed({ To: 'shop.example', Subject: 'Hello@Host', Timestamp: new Date(Date.now() - 3_600_000).toISOString() }), 'stranger.example'],
    ['future-timestamp', (c) => c.domains['stranger.example']!.signed({ To: 'shop.example', Subject: 'Hello@Host', Timestamp: new Date(Date.now() + 3_600_000).toISOString() }), 'stranger.example'],
  ];
  for (const [reason, build, from] of cases) {
    it(`${reason}: discarded with that reason`, async () => {
      const text = build(fixture);
      const correlation = (JSON.parse(text) as Envelope).Header.Correlation;
      expect((await post(text)).status).toBe(202);
      const status = await discarded(from, correlation);
      expect(status.discard?.reason).toBe(reason);
      // stranger.example names buffer.example: feedback comes from the receiving domain when it is hosted here.
      expect(status.state).toBe(reason === 'not-addressed-to-us' ? 'noFeedback' : 'feedbackSent');
    });
  }

  it('correlation-reused: a different verified envelope with a claimed correlation is discarded; the holder keeps its status', async () => {
    const stranger = fixture.domains['stranger.example']!;
    const first = stranger.sign({ To: 'shop.example', Subject: 'Hello@Host', Body: { n: 1 } });
    await post(encodeEnvelope(first));
    const holder = await finalOf('stranger.example', first.Header.Correlation);
    // Another envelope (another Hash) with the same correlation: the ingress ID includes the Hash, so it is stored.
    const second = stranger.sign({ To: 'shop.example', Subject: 'Hello@Host', Body: { n: 2 }, Correlation: first.Header.Correlation });
    const res = await post(encodeEnvelope(second));
    expect(res.status).toBe(202);
    const status = await waitFor(() => settledFor('stranger.example', first.Header.Correlation).find((s) => s.status.discard)?.status);
    expect(status.discard?.reason).toBe('correlation-reused');
    expect(status.hash).toBe(second.Hash);
    expect(await mailroom.status('stranger.example', first.Header.Correlation)).toEqual(holder);
  });

  it('bad input at the inbox: 400 with a named reason, 413 too large, 415 wrong media type; nothing stored', async () => {
    const bad = await post('{"Header": {"Schema": "pollyweb.org/MSG:2.0"}}');
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ error: 'unsupported-schema' });
    const malformed = await post('{"Header": ');
    expect(malformed.status).toBe(400);
    expect(await malformed.json()).toMatchObject({ error: 'malformed' });
    const large = await post(`{"x":"${'a'.repeat(300 * 1024)}"}`);
    expect(large.status).toBe(413);
    const media = await post('{}', 'application/xml');
    expect(media.status).toBe(415);
  });

  it('a malformed envelope published straight to NATS is discarded as malformed, without feedback', async () => {
    const nc = await connectNats({ url: server.url });
    const before = settled.length;
    await nc.publish(mailroom.names.inboxSubject('shop.example', 'nobody'), '{"Header": {"Schema": ".MSG"}}');
    await nc.flush();
    await nc.close();
    const status = await waitFor(() => settled.slice(before).find((s) => s.status.discard?.reason === 'malformed')?.status);
    expect(status.state).toBe('noFeedback');
  });

  it('a handler final error discards with its reason and sends feedback', async () => {
    const orders = fixture.domains['orders.example']!;
    const envelope = orders.sign({ To: 'shop.example', Subject: 'Refuse@Host' });
    await post(encodeEnvelope(envelope));
    const status = await finalOf('orders.example', envelope.Header.Correlation);
    expect(status.discard).toMatchObject({ reason: 'refused', source: 'handler' });
    expect(status.state).toBe('feedbackSent');
  });
});

describe('retries', () => {
  it('a retryable handler error is retried with backoff and then replied; the attempt is counted', async () => {
    const orders = fixture.domains['orders.example']!;
    const envelope = orders.sign({ To: 'shop.example', Subject: 'Flaky@Host' });
    await post(encodeEnvelope(envelope));
    const status = await finalOf('orders.example', envelope.Header.Correlation);
    expect(status.state).toBe('replied');
    expect(status.attempt).toBe(2);
    expect(status.history.map((h) => h.state)).toContain('retrying');
  });

  it('attempts running out dead-letter the envelope', async () => {
    const orders = fixture.domains['orders.example']!;
    const envelope = orders.sign({ To: 'shop.example', Subject: 'Broken@Host', Correlation: randomUUID() });
    await post(encodeEnvelope(envelope));
    const status = await finalOf('orders.example', envelope.Header.Correlation);
    expect(status.state).toBe('deadLettered');
    expect(status.attempt).toBe(3);
    expect(status.deadLetter).toMatchObject({ reason: 'max-attempts', lastState: 'handling' });
  });
});

describe('trace context', () => {
  it('carries a W3C traceparent from the inbox request to every state and on to the reply', async () => {
    const transitions: EnvelopeTransition[] = [];
    const listener = (t: EnvelopeTransition) => transitions.push(t);
    mailroom.events.on('transition', listener);
    try {
      const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
      const envelope = fixture.domains['orders.example']!.sign({ To: 'shop.example', Subject: 'Hello@Host' });
      const res = await fetch(`${mailroom.url}/inbox`, { method: 'POST', headers: { 'content-type': 'application/json', traceparent, tracestate: 'mailroom=1' }, body: encodeEnvelope(envelope) });
      expect(res.status).toBe(202);
      await waitFor(() => settledFor('shop.example', envelope.Header.Correlation).length > 0);
      const request = transitions.filter((t) => t.from === 'orders.example' && t.correlation === envelope.Header.Correlation);
      const reply = transitions.filter((t) => t.from === 'shop.example' && t.correlation === envelope.Header.Correlation);
      expect(request.map((t) => t.state)).toEqual(['validating', 'handling', 'replying', 'replied']);
      expect(reply.length).toBeGreaterThan(0);
      for (const t of [...request, ...reply]) expect(t.trace).toEqual({ traceparent, tracestate: 'mailroom=1' });
      // A malformed traceparent is dropped, not passed on.
      const other = fixture.domains['orders.example']!.sign({ To: 'shop.example', Subject: 'Hello@Host' });
      await fetch(`${mailroom.url}/inbox`, { method: 'POST', headers: { 'content-type': 'application/json', traceparent: 'nonsense' }, body: encodeEnvelope(other) });
      await finalOf('orders.example', other.Header.Correlation);
      expect(transitions.filter((t) => t.correlation === other.Header.Correlation).every((t) => t.trace === undefined)).toBe(true);
    } finally {
      mailroom.events.off('transition', listener);
    }
  });
});

describe('health', () => {
  it('answers /healthz and /readyz', async () => {
    expect((await fetch(`${mailroom.url}/healthz`)).status).toBe(200);
    const ready = await fetch(`${mailroom.url}/readyz`);
    expect(ready.status).toBe(200);
  });
});
