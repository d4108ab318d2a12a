/** The conversation machine's live counts: from the runtime's `conversation` events, against a real runtime. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventEmitter } from 'node:events';
import { startNatsServer, type NatsServerHandle } from '../support/nats-server.ts';
import { makeFixture } from '../support/runtime-fixture.ts';
import { waitFor } from '../support/wait-for.ts';
import { startMailroom } from '../../src/mailroom/start-mailroom.ts';
import type { Mailroom, MailroomEvents } from '../../src/core/mailroom-types.ts';
import { ConversationCounter } from '../../src/observability/conversation-counter.ts';

let server: NatsServerHandle;
let mailroom: Mailroom;
const counter = new ConversationCounter();
let changes = 0;

beforeAll(async () => {
  server = await startNatsServer();
  const fixture = await makeFixture({ natsUrl: server.url, local: ['orders.example', 'shop.example'], feedback: { 'orders.example': 'shop.example' } });
  const events = new EventEmitter<MailroomEvents>();
  counter.attach(events);
  counter.onChange(() => changes++);
  mailroom = await startMailroom(fixture.config, { events, handlers: { 'shop.example': { 'Quote@Shop': () => ({ price: 1 }) } }, onError: () => undefined });
});
afterAll(async () => {
  await mailroom?.stop();
  await server?.stop();
});

describe('conversation counts', () => {
  it('count the waiting ones and how the others ended', async () => {
    const waiting = await mailroom.startConversation({ from: 'orders.example', to: 'nowhere.invalid', subject: 'Ask@Nowhere', timeoutMs: 60_000 });
    expect(counter.counts().inFlight).toEqual({ awaitingReply: 1 });
    await mailroom.request({ from: 'orders.example', to: 'shop.example', subject: 'Quote@Shop' });
    await mailroom.request({ from: 'orders.example', to: 'shop.example', subject: 'Nope@Shop' });
    await mailroom.request({ from: 'orders.example', to: 'nowhere.invalid', subject: 'Ask@Nowhere', timeoutMs: 500 });
    await waitFor(() => Object.values(counter.counts().finished).reduce((a, b) => a + b, 0) === 3);
    expect(counter.counts()).toEqual({ inFlight: { awaitingReply: 1 }, finished: { replied: 1, discarded: 1, timedOut: 1 } });
    expect(changes).toBe(7);
    expect(waiting.correlation).toBeTruthy();
  });
});
