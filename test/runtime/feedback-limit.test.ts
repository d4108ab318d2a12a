/**
 * Feedback cannot be used as an amplifier: envelopes that fail verification can claim any
 * sender, and each discarded one would make this runtime sign a Feedback@Buffer to the
 * buffer domain that sender names. Per claimed sender, feedback is rate-limited.
 */
import { EventEmitter } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNatsServer, type NatsServerHandle } from '../support/nats-server.ts';
import { makeFixture } from '../support/runtime-fixture.ts';
import { waitFor } from '../support/wait-for.ts';
import { startMailroom } from '../../src/mailroom/start-mailroom.ts';
import type { MailroomEvents } from '../../src/core/mailroom-types.ts';
import { createMailroomMetrics } from '../../src/observability/mailroom-metrics.ts';
import { encodeEnvelope } from '../../src/envelope/index.ts';
import type { EnvelopeStatus } from '../../src/runtime/status-store.ts';
import type { Envelope } from '../../src/envelope/types.ts';
import { FeedbackLimiter } from '../../src/runtime/feedback-limiter.ts';

let server: NatsServerHandle;
beforeAll(async () => {
  server = await startNatsServer();
});
afterAll(async () => {
  await server?.stop();
});

describe('the feedback limit per claimed sender', () => {
  it('50 forged envelopes claiming one sender: at most `burst` feedbacks reach its buffer, the rest end noFeedback and are counted', async () => {
    const burst = 10;
    const fixture = await makeFixture({
      natsUrl: server.url,
      local: ['shop.example', 'buffer.example'],
      remote: ['orders.example'],
      // A rate so low that no token comes back during the test: exactly `burst` go out.
      extra: { manifests: { 'orders.example': { feedback: 'buffer.example' } }, feedback: { rate: 0.001, burst } },
    });
    const events = new EventEmitter<MailroomEvents>();
    const metrics = createMailroomMetrics({ defaultMetrics: false });
    metrics.attach(events);
    const settled: { status: EnvelopeStatus; envelope: Envelope | undefined }[] = [];
    events.on('settled', (status, envelope) => settled.push({ status, envelope }));
    const mailroom = await startMailroom(fixture.config, { events, handlers: { 'shop.example': { 'Hello@Host': () => ({ ok: true }) } } });
    try {
      const orders = fixture.domains['orders.example']!;
      // Forged: a signed envelope of orders.example with its Body changed (hash-mismatch), as anyone can make.
      const forged = Array.from({ length: 50 }, (_, n) => encodeEnvelope({ ...orders.sign({ To: 'shop.example', Subject: 'Hello@Host', Body: { n } }), Body: { n, forged: true } }));
      for (const text of forged) expect((await mailroom.accept(text, 'json')).kind).toBe('accepted');

      const discarded = () => settled.filter((s) => s.status.from === 'orders.example' && s.status.final);
      await waitFor(() => discarded().length === forged.length, { what: 'every forged envelope final', timeoutMs: 20_000 });
      expect(discarded().every((s) => s.status.discard?.reason === 'hash-mismatch')).toBe(true);
      const states = discarded().map((s) => s.status.state);
      expect(states.filter((s) => s === 'feedbackSent')).toHaveLength(burst);
      expect(states.filter((s) => s === 'noFeedback')).toHaveLength(forged.length - burst);

      // What reached the buffer domain: every feedback sent, and no more.
      const atBuffer = () => settled.filter((s) => s.envelope?.Header.Subject === 'Feedback@Buffer' && s.envelope.Header.To === 'buffer.example');
      await waitFor(() => atBuffer().length === burst, { what: `${burst} feedbacks at the buffer domain` });
      await waitFor(async () => {
        const stats = await mailroom.stats();
        return stats.outbox.waiting + stats.outbox.inFlight + stats.inbox.waiting + stats.inbox.inFlight === 0;
      }, { what: 'the queues drained' });
      expect(atBuffer()).toHaveLength(burst);
      expect(await metrics.text()).toContain(`mailroom_feedback_suppressed_total{reason="rate-limit"} ${forged.length - burst}`);
    } finally {
      await mailroom.stop();
    }
  }, 60_000);

  it('the limiter: a burst per sender, then the rate; senders do not share a bucket', () => {
    let now = 0;
    const suppressed: string[] = [];
    const limiter = new FeedbackLimiter({ rate: 2, burst: 3, now: () => now, onSuppressed: (s) => suppressed.push(s) });
    expect([1, 2, 3, 4].map(() => limiter.allow('a.example'))).toEqual([true, true, true, false]);
    expect(limiter.allow('b.example')).toBe(true);
    now += 500; // one token back at 2 a second
    expect([limiter.allow('a.example'), limiter.allow('a.example')]).toEqual([true, false]);
    expect(suppressed).toEqual(['a.example', 'a.example']);
  });
});
