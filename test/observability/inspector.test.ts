/**
 * The WebSocket inspector: Stately's own receiver gets the actor, event and snapshot
 * inspection events of an envelope's actor in order, and the filter keeps other envelopes out.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWebSocketReceiver, type StatelyInspectionEvent } from '@statelyai/inspect';
import { startNatsServer, type NatsServerHandle } from '../support/nats-server.ts';
import { makeFixture, type Fixture } from '../support/runtime-fixture.ts';
import { waitFor } from '../support/wait-for.ts';
import { startMailroom } from '../../src/mailroom/start-mailroom.ts';
import type { Mailroom } from '../../src/core/mailroom-types.ts';
import type { EnvelopeStatus } from '../../src/runtime/status-store.ts';
import { startObservability, type Observability } from '../../src/observability/observability.ts';
import { inspectionPredicate, parseInspectionFilter } from '../../src/observability/inspection-filter.ts';
import { InspectionFilterError } from '../../src/errors.ts';

let server: NatsServerHandle;
let fixture: Fixture;
let observability: Observability;
let mailroom: Mailroom;
const settled: EnvelopeStatus[] = [];

beforeAll(async () => {
  server = await startNatsServer();
  fixture = await makeFixture({ natsUrl: server.url, local: ['shop.example'], remote: ['orders.example'] });
  observability = await startObservability({ inspector: { port: 0, filter: parseInspectionFilter('subject=Hello@*,domain=shop.example') }, metrics: false, dashboard: false, tracing: false });
  mailroom = await startMailroom(fixture.config, {
    ...observability.mailroomOptions,
    handlers: { 'shop.example': { 'Hello@Host': () => ({ hi: true }), 'Other@Host': () => ({ other: true }) } },
    outboxWorker: false,
  });
  mailroom.events.on('settled', (status) => settled.push(status));
});
afterAll(async () => {
  await mailroom?.stop();
  await observability?.stop();
  await server?.stop();
});

const send = async (subject: string) => {
  const envelope = fixture.domains['orders.example']!.sign({ To: 'shop.example', Subject: subject, Body: { subject } });
  const res = await fetch(`${mailroom.url}/inbox`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(envelope) });
  expect(res.status).toBe(202);
  return envelope.Header.Correlation;
};

describe('the WebSocket inspector', () => {
  it("streams an envelope actor's actor, event and snapshot events in order, and filters out other envelopes", async () => {
    const received: StatelyInspectionEvent[] = [];
    createWebSocketReceiver({ server: observability.inspector!.url }).subscribe((event) => received.push(event));
    await waitFor(() => observability.inspector!.clients() === 1, { what: 'the receiver to connect' });
    // The root actor's registration greets every new client.
    await waitFor(() => received.find((e) => e.type === '@xstate.actor' && e.name === 'mailroom'), { what: 'the root actor' });

    const other = await send('Other@Host');
    const hello = await send('Hello@Host');
    await waitFor(() => settled.some((s) => s.correlation === other) && settled.some((s) => s.correlation === hello), { what: 'both envelopes to settle' });

    const contextOf = (e: StatelyInspectionEvent) => (e.type === '@xstate.snapshot' ? (e.snapshot as { context?: { correlation?: string } }).context : undefined);
    const done = await waitFor(
      () => received.find((e) => e.type === '@xstate.snapshot' && contextOf(e)?.correlation === hello && (e.snapshot as { status?: string }).status === 'done'),
      { what: "the hello actor's final snapshot" },
    );
    const actorId = done.sessionId;
    const mine = received.filter((e) => e.sessionId === actorId);
    const actor = mine.findIndex((e) => e.type === '@xstate.actor');
    const init = mine.findIndex((e) => e.type === '@xstate.event' && (e.event as { type: string }).type === 'xstate.init');
    const firstSnapshot = mine.findIndex((e) => e.type === '@xstate.snapshot');
    expect(actor).toBe(0);
    expect(init).toBeGreaterThan(actor);
    expect(firstSnapshot).toBeGreaterThan(init);
    const registration = mine[actor] as Extract<StatelyInspectionEvent, { type: '@xstate.actor' }>;
    // The runtime's actors start in validating: received and queued happen before an actor exists (the
    // inbox, JetStream), and stay in the definition the inspector draws.
    const definition = JSON.parse(registration.definition!) as { id: string; initial: string; states: Record<string, unknown> };
    expect(definition).toMatchObject({ id: 'envelope', initial: 'validating' });
    expect(Object.keys(definition.states)).toEqual(expect.arrayContaining(['received', 'queued', 'validating']));
    // The state values walk the machine's path.
    const values = mine.filter((e) => e.type === '@xstate.snapshot').map((e) => (e.snapshot as { value?: string }).value);
    expect(values.filter((v, i) => v !== values[i - 1])).toEqual(['validating', 'handling', 'replying', 'replied']);
    // Each step's result comes along as an event of the actor (the steps are its entry actions, not child actors).
    const events = mine.filter((e) => e.type === '@xstate.event').map((e) => (e.event as { type: string }).type);
    expect(events).toEqual(['xstate.init', 'validate.done', 'handle.done', 'reply.done']);

    // Nothing of the other subject's envelope arrived.
    expect(JSON.stringify(received)).not.toContain(other);
  });
});

describe('inspection filters', () => {
  it('parse domain, subject and correlation, repeated keys and wildcards', () => {
    expect(parseInspectionFilter('domain=a.example, subject=Hello@*,subject=Bye@Host,correlation=c1')).toEqual({
      domain: ['a.example'],
      subject: ['Hello@*', 'Bye@Host'],
      correlation: ['c1'],
    });
    expect(() => parseInspectionFilter('colour=blue')).toThrow(InspectionFilterError);
    expect(() => parseInspectionFilter('subject=')).toThrow(/bad inspect filter/);
  });

  it('match an envelope actor and the actors it invokes, by its input', () => {
    const root = { _parent: undefined };
    const envelope = { _parent: root, options: { input: { from: 'orders.example', to: 'shop.example', subject: 'Hello@Host', correlation: 'c-1' } } };
    const child = { _parent: envelope, options: { input: { messageId: '1' } } };
    const event = (actorRef: object) => ({ type: '@xstate.snapshot', actorRef, rootId: 'x', event: { type: 'e' }, snapshot: {} }) as never;
    expect(inspectionPredicate(parseInspectionFilter('domain=orders.example'))(event(child))).toBe(true);
    expect(inspectionPredicate(parseInspectionFilter('subject=Hello@*'))(event(envelope))).toBe(true);
    expect(inspectionPredicate(parseInspectionFilter('subject=Hello@*,correlation=c-2'))(event(envelope))).toBe(false);
    expect(inspectionPredicate(parseInspectionFilter('domain=else.example'))(event(child))).toBe(false);
    expect(inspectionPredicate({})({ type: '@xstate.microstep', actorRef: envelope } as never)).toBe(false);
  });
});

describe('the inspector WebSocket and browser origins', () => {
  it('refuses a web page of another origin (WebSockets have no CORS), admits loopback pages, allowed origins and non-browser clients', async () => {
    const { startInspectorServer } = await import('../../src/observability/inspector-server.ts');
    const { WebSocket } = await import('ws');
    const server = await startInspectorServer({ port: 0, allowedOrigins: ['https://mailroom.example.com'] });
    const opens = (origin?: string) =>
      new Promise<boolean>((resolve) => {
        const socket = new WebSocket(server.url, origin ? { origin } : {});
        socket.once('open', () => {
          socket.close();
          resolve(true);
        });
        socket.once('error', () => resolve(false));
      });
    try {
      expect(await opens('https://evil.example')).toBe(false);
      expect(await opens('http://127.0.0.1.evil.example:8080')).toBe(false);
      expect(await opens('null')).toBe(false);
      expect(await opens('http://127.0.0.1:8080')).toBe(true);
      expect(await opens('http://localhost:3000')).toBe(true);
      expect(await opens('https://mailroom.example.com')).toBe(true);
      expect(await opens()).toBe(true);
    } finally {
      await server.stop();
    }
  });
});
