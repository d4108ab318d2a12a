/**
 * An envelope stored again after it was answered (a re-post after a broker restart, an ack
 * that was lost): its actor only settles the message. What it reports: its first step, then a
 * final step marked `answeredBefore` that closes it (so in-flight counts and dashboards do not
 * keep it), and no second `settled` event, no second reply.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jetstream } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { startNatsServer, type NatsServerHandle } from '../support/nats-server.ts';
import { makeFixture, type Fixture } from '../support/runtime-fixture.ts';
import { waitFor } from '../support/wait-for.ts';
import { startMailroom } from '../../src/mailroom/start-mailroom.ts';
import type { Mailroom } from '../../src/core/mailroom-types.ts';
import type { EnvelopeTransition } from '../../src/runtime/envelope-runner.ts';
import type { EnvelopeStatus } from '../../src/runtime/status-store.ts';
import { connectNats } from '../../src/transport/connect.ts';
import { createNames } from '../../src/transport/names.ts';
import { encodeEnvelope } from '../../src/envelope/index.ts';
import { startObservability, type Observability } from '../../src/observability/observability.ts';

let server: NatsServerHandle;
let fixture: Fixture;
let mailroom: Mailroom;
let observability: Observability;
let nc: NatsConnection;
const transitions: EnvelopeTransition[] = [];
const settled: EnvelopeStatus[] = [];
let handled = 0;

beforeAll(async () => {
  server = await startNatsServer();
  fixture = await makeFixture({ natsUrl: server.url, local: ['shop.example'], remote: ['orders.example'] });
  observability = await startObservability({ tracing: false });
  mailroom = await startMailroom(fixture.config, {
    ...observability.mailroomOptions,
    http: false,
    outboxWorker: false,
    handlers: { 'shop.example': { 'Hello@Host': () => (handled++, { hi: true }) } },
  });
  mailroom.events.on('transition', (t) => transitions.push(t));
  mailroom.events.on('settled', (s) => settled.push(s));
  nc = await connectNats({ url: server.url });
});
afterAll(async () => {
  await nc?.close();
  await mailroom?.stop();
  await observability?.stop();
  await server?.stop();
});

describe('an envelope stored again after it was answered', () => {
  it('reports its first step and a marked final one, settles once, and leaves nothing in flight', async () => {
    const envelope = fixture.domains['orders.example']!.sign({ To: 'shop.example', Subject: 'Hello@Host' });
    const correlation = envelope.Header.Correlation;
    const names = createNames(fixture.prefix);
    const js = jetstream(nc);
    const bytes = encodeEnvelope(envelope);
    // Two stored messages with the same envelope (distinct message IDs: the dedupe window does not see the second).
    await js.publish(names.inboxSubject('shop.example', 'orders.example'), bytes, { msgID: `${correlation}-first` });
    await waitFor(() => settled.find((s) => s.correlation === correlation), { what: 'the first to settle' });
    await js.publish(names.inboxSubject('shop.example', 'orders.example'), bytes, { msgID: `${correlation}-again` });
    await waitFor(() => transitions.find((t) => t.correlation === correlation && t.answeredBefore), { what: 'the second actor to finish' });

    const mine = transitions.filter((t) => t.correlation === correlation);
    expect(mine.map((t) => [t.state, t.answeredBefore ?? false])).toEqual([
      ['validating', false],
      ['handling', false],
      ['replying', false],
      ['replied', false],
      ['validating', false],
      ['replied', true],
    ]);
    expect(settled.filter((s) => s.correlation === correlation)).toHaveLength(1);
    expect(handled).toBe(1);
    expect(observability.tracker!.counts()).toEqual({ inFlight: {}, finished: { replied: 1 } });
    expect(observability.tracker!.recent().filter((e) => e.correlation === correlation).map((e) => [e.state, e.final])).toEqual([['replied', true]]);
  });
});
