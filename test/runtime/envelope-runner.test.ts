/**
 * The envelope runner's two ways out of `handling`, end to end against a real nats-server:
 * a handler's reply goes through `replying`; no reply (a one-way message, or an answer to
 * this runtime's own request) ends `replied` straight from `handling`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNatsServer, type NatsServerHandle } from '../support/nats-server.ts';
import { makeFixture, type Fixture } from '../support/runtime-fixture.ts';
import { waitFor } from '../support/wait-for.ts';
import { startMailroom } from '../../src/mailroom/start-mailroom.ts';
import type { Mailroom } from '../../src/core/mailroom-types.ts';
import type { EnvelopeStatus } from '../../src/runtime/status-store.ts';
import type { EnvelopeTransition } from '../../src/runtime/envelope-runner.ts';
import { encodeEnvelope } from '../../src/envelope/index.ts';

let server: NatsServerHandle;
let fixture: Fixture;
let mailroom: Mailroom;
const settled: EnvelopeStatus[] = [];
const transitions: EnvelopeTransition[] = [];
const notes: unknown[] = [];

beforeAll(async () => {
  server = await startNatsServer();
  fixture = await makeFixture({ natsUrl: server.url, local: ['shop.example', 'orders.example'] });
  mailroom = await startMailroom(fixture.config, {
    handlers: {
      'shop.example': {
        'Note@Host': ({ body }) => {
          notes.push(body);
        },
        'Hello@Host': ({ from }) => ({ text: `hello ${from}` }),
      },
    },
  });
  mailroom.events.on('settled', (status) => settled.push(status));
  mailroom.events.on('transition', (t) => transitions.push(t));
});

afterAll(async () => {
  await mailroom?.stop();
  await server?.stop();
});

const post = (body: string) => fetch(`${mailroom.url}/inbox`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
const finalOf = (from: string, correlation: string) =>
  waitFor(() => settled.find((s) => s.from === from && s.correlation === correlation && s.final), { what: `final state of ${from}/${correlation}` });
const statesOf = (from: string, correlation: string) => transitions.filter((t) => t.from === from && t.correlation === correlation).map((t) => t.state);

describe('the envelope runner', () => {
  it('a one-way message (the handler returns nothing) goes handling → replied, without replying, and has no reply', async () => {
    const envelope = fixture.domains['orders.example']!.sign({ To: 'shop.example', Subject: 'Note@Host', Body: { note: 'fyi' } });
    expect((await post(encodeEnvelope(envelope))).status).toBe(202);
    const status = await finalOf('orders.example', envelope.Header.Correlation);
    expect(status.state).toBe('replied');
    expect(status.history.map((h) => h.state)).toEqual(['received', 'queued', 'validating', 'handling', 'replied']);
    expect(status.replyCorrelation).toBeUndefined();
    expect(status.replySubject).toBeUndefined();
    expect(statesOf('orders.example', envelope.Header.Correlation)).toEqual(['validating', 'handling', 'replied']);
    expect(notes).toEqual([{ note: 'fyi' }]);
  });

  it('a request goes through replying; its reply, an answer to this runtime, ends replied without replying', async () => {
    // Sent as a request (a conversation waits for its correlation): its reply is an answer.
    const { correlation } = await mailroom.startConversation({ from: 'orders.example', to: 'shop.example', subject: 'Hello@Host', timeoutMs: 30_000 });
    const envelope = { Header: { Correlation: correlation } };
    const request = await finalOf('orders.example', envelope.Header.Correlation);
    expect(request.history.map((h) => h.state)).toEqual(['received', 'queued', 'validating', 'handling', 'replying', 'replied']);
    expect(request).toMatchObject({ state: 'replied', replyCorrelation: envelope.Header.Correlation, replySubject: 'Reply@Hello@Host' });
    const reply = await finalOf('shop.example', envelope.Header.Correlation);
    expect(reply).toMatchObject({ state: 'replied', subject: 'Reply@Hello@Host', body: { text: 'hello orders.example' } });
    expect(reply.history.map((h) => h.state)).toEqual(['received', 'queued', 'validating', 'handling', 'replied']);
    expect(statesOf('shop.example', envelope.Header.Correlation)).toEqual(['validating', 'handling', 'replied']);
  });
});
