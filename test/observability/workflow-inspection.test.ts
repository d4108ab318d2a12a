/**
 * Workflows in Stately Inspector: after each stored step the runtime's `inspect` option gets
 * synthetic XState inspection events (one `@xstate.actor` per workflow, then `@xstate.event`
 * and `@xstate.snapshot` per step) that Stately's converter turns into an actor with the
 * machine's definition; the WebSocket inspector streams them past an envelope filter and
 * replays them to a client that connects later, after the runtime's root actor.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { InspectionEvent } from 'xstate';
import { createInspector, createWebSocketReceiver, type StatelyInspectionEvent } from '@statelyai/inspect';
import { startNatsServer, type NatsServerHandle } from '../support/nats-server.ts';
import { makeFixture, type Fixture } from '../support/runtime-fixture.ts';
import { waitFor } from '../support/wait-for.ts';
import { startMailroom } from '../../src/mailroom/start-mailroom.ts';
import type { Mailroom } from '../../src/core/mailroom-types.ts';
import { startObservability, type Observability } from '../../src/observability/observability.ts';
import { inspectionPredicate, parseInspectionFilter } from '../../src/observability/inspection-filter.ts';
import { inspectWorkflows, isWorkflowActor, workflowSessionId } from '../../src/observability/workflow-inspection.ts';
import type { WorkflowChange, WorkflowInfo } from '../../src/workflows/workflow-types.ts';
import { ticket } from '../support/ticket-machine.ts';


let server: NatsServerHandle;
let fixture: Fixture;
let observability: Observability;
let mailroom: Mailroom;
const captured: InspectionEvent[] = [];
type ActorEvent = Extract<StatelyInspectionEvent, { type: '@xstate.actor' }>;
type SnapshotEvent = Extract<StatelyInspectionEvent, { type: '@xstate.snapshot' }>;

beforeAll(async () => {
  server = await startNatsServer();
  fixture = await makeFixture({ natsUrl: server.url, local: ['shop.example'] });
  // A filter that matches no envelope: workflows pass anyway.
  observability = await startObservability({ inspector: { port: 0, filter: parseInspectionFilter('subject=Nothing@Here') }, metrics: false, dashboard: false, tracing: false });
  const relay = observability.mailroomOptions.inspect!;
  mailroom = await startMailroom(fixture.config, {
    ...observability.mailroomOptions,
    inspect: (event) => {
      captured.push(event);
      relay(event);
    },
    workflows: [{ machine: ticket }],
    http: false,
    onError: () => undefined,
  });
});
afterAll(async () => {
  await mailroom?.stop();
  await observability?.stop();
  await server?.stop();
});

const eventsOf = (id: string) => captured.filter((e) => isWorkflowActor(e.actorRef) && e.actorRef.sessionId === workflowSessionId(id));
const runTicket = async (id: string) => {
  await mailroom.workflows.start('ticket', undefined, { id });
  for (const type of ['work', 'review', 'approve'] as const) await mailroom.workflows.send(id, { type });
};
const doneSnapshot = (id: string) => (e: InspectionEvent) => e.type === '@xstate.snapshot' && e.actorRef.sessionId === workflowSessionId(id) && (e.snapshot as { status?: string }).status === 'done';

describe('workflow inspection events through the inspect option', () => {
  it('registers a workflow once, with its machine, then an event and a snapshot per stored step, in order', async () => {
    await runTicket('w-1');
    await waitFor(() => captured.some(doneSnapshot('w-1')), { what: "w-1's final snapshot" });
    const events = eventsOf('w-1');
    expect(events.filter((e) => e.type === '@xstate.actor')).toHaveLength(1);
    const registration = events[0]!;
    expect(registration.type).toBe('@xstate.actor');
    expect(registration.rootId).toBe('workflow:w-1');
    const ref = registration.actorRef as unknown as { id: string; sessionId: string; _parent?: unknown; logic: unknown; getSnapshot(): unknown };
    expect(ref).toMatchObject({ id: 'w-1', sessionId: 'workflow:w-1' });
    expect(ref._parent).toBeUndefined();
    expect(ref.logic).toBe(ticket);

    const rest = events.slice(1);
    expect(rest.map((e) => e.type)).toEqual(Array.from({ length: 4 }, () => ['@xstate.event', '@xstate.snapshot']).flat());
    expect(rest.filter((e) => e.type === '@xstate.event').map((e) => e.event.type)).toEqual(['xstate.init', 'work', 'review', 'approve']);
    const snapshots = rest.filter((e) => e.type === '@xstate.snapshot').map((e) => e.snapshot as unknown as { value: unknown; status: string; context: unknown; output?: unknown; mailroom: { seq: number } });
    expect(snapshots.map((s) => s.value)).toEqual(['open', { working: 'coding' }, { working: 'reviewing' }, 'closed']);
    expect(snapshots.map((s) => s.status)).toEqual(['active', 'active', 'active', 'done']);
    expect(snapshots.map((s) => s.mailroom.seq)).toEqual([1, 2, 3, 4]);
    expect(snapshots[3]).toMatchObject({ context: { notes: ['started'] }, output: { notes: 1 } });
    // The actor's own snapshot is the newest.
    expect(ref.getSnapshot()).toMatchObject({ value: 'closed', status: 'done' });
    // An envelope filter lets every workflow event through.
    expect(events.every(inspectionPredicate(parseInspectionFilter('domain=else.example,subject=Nope@*')))).toBe(true);
  });

  it("converts, with Stately's own converter, to an actor named by the workflow ID with the machine's definition", async () => {
    const converted: StatelyInspectionEvent[] = [];
    const inspector = createInspector({ send: (event: StatelyInspectionEvent) => void converted.push(event) }, { autoStart: false });
    for (const event of eventsOf('w-1')) inspector.inspect.next?.(event);
    await waitFor(() => converted.length === 9, { what: 'the conversions' });
    const actor = converted[0] as Extract<StatelyInspectionEvent, { type: '@xstate.actor' }>;
    expect(actor).toMatchObject({ type: '@xstate.actor', name: 'w-1', sessionId: 'workflow:w-1', parentId: undefined });
    const definition = JSON.parse(actor.definition!) as { id: string; initial: string; states: Record<string, unknown> };
    expect(definition).toMatchObject({ id: 'ticket', initial: 'open' });
    expect(Object.keys(definition.states).sort()).toEqual(['closed', 'open', 'working']);
    const last = converted[8] as Extract<StatelyInspectionEvent, { type: '@xstate.snapshot' }>;
    expect(last).toMatchObject({ type: '@xstate.snapshot', sessionId: 'workflow:w-1', event: { type: 'approve' }, snapshot: { value: 'closed', status: 'done' } });
  });
});

describe('workflows in the WebSocket inspector', () => {
  it('streams them past an envelope filter, and replays them to a client that connects later, after the root actor', async () => {
    const early: StatelyInspectionEvent[] = [];
    createWebSocketReceiver({ server: observability.inspector!.url }).subscribe((e) => early.push(e));
    await waitFor(() => observability.inspector!.clients() === 1, { what: 'the first client' });
    await runTicket('w-ws');
    await mailroom.workflows.start('ticket', undefined, { id: 'w-waiting' });
    const final = await waitFor(() => early.find((e): e is SnapshotEvent => e.type === '@xstate.snapshot' && e.sessionId === 'workflow:w-ws' && (e.snapshot as { status?: string }).status === 'done'), { what: 'w-ws done over the WebSocket' });
    expect((final.snapshot as unknown as { value: unknown }).value).toBe('closed');
    const registration = early.find((e) => e.type === '@xstate.actor' && e.sessionId === 'workflow:w-ws') as Extract<StatelyInspectionEvent, { type: '@xstate.actor' }>;
    expect(JSON.parse(registration.definition!)).toMatchObject({ id: 'ticket' });

    const late: StatelyInspectionEvent[] = [];
    createWebSocketReceiver({ server: observability.inspector!.url }).subscribe((e) => late.push(e));
    await waitFor(() => late.some((e) => e.type === '@xstate.actor' && e.sessionId === 'workflow:w-waiting'), { what: 'the replayed registrations' });
    // The runtime's root actor greets first, as before; then the workflows, with their state now.
    expect(late[0]).toMatchObject({ type: '@xstate.actor', name: 'mailroom' });
    const replayed = late.filter((e): e is ActorEvent => e.type === '@xstate.actor' && e.sessionId.startsWith('workflow:'));
    expect(replayed.map((e) => e.sessionId)).toEqual(expect.arrayContaining(['workflow:w-1', 'workflow:w-ws', 'workflow:w-waiting']));
    expect(replayed.find((e) => e.sessionId === 'workflow:w-ws')!.snapshot).toMatchObject({ value: 'closed', status: 'done' });
    expect(replayed.find((e) => e.sessionId === 'workflow:w-waiting')!.snapshot).toMatchObject({ value: 'open', status: 'active' });

    // A step after the late client joined reaches it.
    await mailroom.workflows.send('w-waiting', { type: 'work' });
    await waitFor(() => late.find((e) => e.type === '@xstate.snapshot' && e.sessionId === 'workflow:w-waiting' && JSON.stringify((e.snapshot as unknown as { value: unknown }).value) === '{"working":"coding"}'), {
      what: "w-waiting's step on the late client",
    });
  });
});

describe('inspectWorkflows', () => {
  const info = (seq: number, overrides: Partial<WorkflowInfo> = {}): WorkflowInfo => ({
    id: 'w',
    name: 'ticket',
    version: 'v1',
    status: 'running',
    state: `s${seq}`,
    context: { seq },
    seq,
    createdAt: 0,
    updatedAt: seq,
    history: Array.from({ length: seq }, (_, i) => ({ seq: i + 1, at: i + 1, event: `e${i + 1}`, state: `s${i + 1}` })),
    activities: [],
    timers: [],
    ...overrides,
  });
  const change = (seq: number): WorkflowChange => ({ id: 'w', name: 'ticket', status: 'running', state: `s${seq}`, seq, event: `e${seq}`, at: seq });

  it('sends the events of steps stored meanwhile once, ignores stale changes, and registers again only after forgetting', async () => {
    const events: InspectionEvent[] = [];
    let stored = info(1);
    const inspection = inspectWorkflows({ inspect: (e) => events.push(e), workflows: { get: async () => stored, registered: () => [{ name: 'ticket', version: 'v1', machine: ticket }] }, maxTracked: 1 });
    inspection.onChange(change(1));
    await inspection.idle();
    // Three steps land before the store is read: their three events, one snapshot (the newest).
    stored = info(4);
    inspection.onChange(change(2));
    inspection.onChange(change(3));
    inspection.onChange(change(4));
    await inspection.idle();
    const summary = (e: InspectionEvent) => (e.type === '@xstate.event' ? `event ${e.event.type}` : e.type === '@xstate.snapshot' ? `snapshot ${(e.snapshot as unknown as { value: string }).value}` : e.type);
    expect(events.map(summary)).toEqual(['@xstate.actor', 'event e1', 'snapshot s1', 'event e2', 'event e3', 'event e4', 'snapshot s4']);

    // Remembering one workflow at most: another one pushes it out, and its next step registers it again.
    const other = { ...info(1), id: 'x' };
    const both = inspectWorkflows({
      inspect: (e) => events.push(e),
      workflows: { get: async (id) => (id === 'x' ? other : stored), registered: () => [] },
      maxTracked: 1,
    });
    events.length = 0;
    both.onChange(change(4));
    both.onChange({ ...change(1), id: 'x' });
    stored = info(5);
    both.onChange(change(5));
    await both.idle();
    expect(events.filter((e) => e.type === '@xstate.actor').map((e) => e.actorRef.sessionId)).toEqual(['workflow:w', 'workflow:x', 'workflow:w']);
    // Without the machine registered here, the definition is just its name.
    expect((events[0]!.actorRef as unknown as { logic: { config: unknown } }).logic.config).toEqual({ id: 'ticket' });
  });
});
