/**
 * The workflow engine in one process, against a real nats-server: start, events, durable
 * delays, activities (journaled, retried, cancelled), requests to domains, triggers by
 * envelope, the store and its errors.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assign, fromPromise, raise, setup } from 'xstate';
import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { startNatsServer, type NatsServerHandle } from '../support/nats-server.ts';
import { waitFor } from '../support/wait-for.ts';
import { connectNats } from '../../src/transport/connect.ts';
import { makeFixture, type Fixture } from '../support/runtime-fixture.ts';
import { startMailroom } from '../../src/mailroom/start-mailroom.ts';
import type { Mailroom } from '../../src/core/mailroom-types.ts';
import { activity, activityContext } from '../../src/workflows/activity.ts';
import { InvalidWorkflowInputError, UnknownWorkflowError, WorkflowAlreadyExistsError, WorkflowNotFoundError, WorkflowNotRunningError } from '../../src/workflows/workflow-errors.ts';

let server: NatsServerHandle;
let f: Fixture;
let mailroom: Mailroom;
let nc: NatsConnection;

beforeAll(async () => {
  server = await startNatsServer();
  f = await makeFixture({ natsUrl: server.url, local: ['shop.example', 'warehouse.example'] });
  mailroom = await startMailroom(f.config, { http: false, onError: () => undefined });
  nc = await connectNats({ url: server.url });
});
afterAll(async () => {
  await nc?.close();
  await mailroom?.stop();
  await server?.stop();
});

const counter = setup({
  types: { context: {} as { count: number }, events: {} as { type: 'inc'; by?: number } | { type: 'finish' } },
}).createMachine({
  id: 'counter',
  context: { count: 0 },
  initial: 'counting',
  states: {
    counting: {
      on: {
        inc: { actions: assign({ count: ({ context, event }) => context.count + (event.by ?? 1) }) },
        finish: 'finished',
      },
    },
    finished: { type: 'final' },
  },
  output: ({ context }) => ({ total: context.count }),
});

describe('workflows: start, send, get, list', () => {
  it('starts a workflow, advances it one stored step per event, and ends it with its output', async () => {
    mailroom.workflows.register(counter);
    const started = await mailroom.workflows.start('counter', undefined, { id: 'count-1' });
    expect(started).toMatchObject({ id: 'count-1', name: 'counter', status: 'running', state: 'counting', context: { count: 0 }, seq: 1 });
    await mailroom.workflows.send('count-1', { type: 'inc' });
    const after = await mailroom.workflows.send('count-1', { type: 'inc', by: 5 });
    expect(after).toMatchObject({ seq: 3, context: { count: 6 } });
    const done = await mailroom.workflows.send('count-1', { type: 'finish' });
    expect(done).toMatchObject({ status: 'done', state: 'finished', output: { total: 6 } });
    expect(done.history.map((h) => h.event)).toEqual(['xstate.init', 'inc', 'inc', 'finish']);
    const read = await mailroom.workflows.get('count-1');
    expect(read).toMatchObject({ status: 'done', output: { total: 6 }, seq: 4 });
  });

  it('names its errors: unknown kind, taken id, missing workflow, ended workflow, bad event', async () => {
    await expect(mailroom.workflows.start('nope')).rejects.toBeInstanceOf(UnknownWorkflowError);
    await expect(mailroom.workflows.start('counter', undefined, 'count-x' as never)).rejects.toBeInstanceOf(InvalidWorkflowInputError);
    await mailroom.workflows.start('counter', undefined, { id: 'count-2' });
    await expect(mailroom.workflows.start('counter', undefined, { id: 'count-2' })).rejects.toBeInstanceOf(WorkflowAlreadyExistsError);
    await expect(mailroom.workflows.send('missing', { type: 'inc' })).rejects.toBeInstanceOf(WorkflowNotFoundError);
    await expect(mailroom.workflows.send('count-2', { type: 'xstate.done.actor.x' })).rejects.toBeInstanceOf(InvalidWorkflowInputError);
    await expect(mailroom.workflows.send('count-2', { nope: 1 } as never)).rejects.toBeInstanceOf(InvalidWorkflowInputError);
    await mailroom.workflows.cancel('count-2', 'test over');
    await expect(mailroom.workflows.send('count-2', { type: 'inc' })).rejects.toBeInstanceOf(WorkflowNotRunningError);
    expect(await mailroom.workflows.get('count-2')).toMatchObject({ status: 'cancelled', error: { message: 'test over' } });
  });

  it('lists workflows by name, status and state', async () => {
    await mailroom.workflows.start('counter', undefined, { id: 'count-3' });
    const running = await mailroom.workflows.list({ name: 'counter', status: 'running' });
    expect(running.map((w) => w.id)).toContain('count-3');
    expect(running.map((w) => w.id)).not.toContain('count-1');
    expect((await mailroom.workflows.list({ state: 'finished' })).map((w) => w.id)).toEqual(['count-1']);
  });
});

describe('workflows: durable delays', () => {
  it('fires an after transition and a delayed raise, and drops a delay whose state was left', async () => {
    const timed = setup({}).createMachine({
      id: 'timed',
      initial: 'waiting',
      states: {
        waiting: { after: { 300: 'ticked' }, on: { skip: 'skipped' } },
        ticked: { entry: raise({ type: 'later' }, { delay: 200 }), on: { later: 'done' } },
        skipped: { after: { 5_000: 'ticked' }, on: { end: 'done' } },
        done: { type: 'final' },
      },
    });
    mailroom.workflows.register(timed);
    const a = await mailroom.workflows.start('timed', undefined, { id: 'timed-a' });
    expect(a.timers).toHaveLength(1);
    const done = await mailroom.workflows.waitFor('timed-a', 'done', { timeoutMs: 10_000 });
    expect(done.history.map((h) => h.event)).toEqual(['xstate.init', 'xstate.after.300.timed.waiting', 'later']);

    await mailroom.workflows.start('timed', undefined, { id: 'timed-b' });
    const skipped = await mailroom.workflows.send('timed-b', { type: 'skip' });
    expect(skipped.timers.map((t) => t.event)).toEqual(['xstate.after.5000.timed.skipped']);
    // The 300 ms timer of `waiting` fires and is dropped (the state was left): it leaves the
    // timers work queue, where only the 5 s timer of `skipped` stays.
    const jsm = await jetstreamManager(nc);
    await waitFor(async () => (await jsm.streams.info(mailroom.names.streams.timers)).state.messages === 1, { what: 'the stale timer to fire', timeoutMs: 10_000 });
    expect(await mailroom.workflows.get('timed-b')).toMatchObject({ state: 'skipped', seq: 2 });
    const ended = await mailroom.workflows.send('timed-b', { type: 'end' });
    expect(ended).toMatchObject({ status: 'done', timers: [] });
  });
});

describe('workflows: activities', () => {
  it('runs an invoked promise actor as an activity with an idempotency key, and retries a failure by its policy', async () => {
    const seen: { attempt: number; key: string }[] = [];
    const charge = activity<{ charged: number }, { amount: number }>(
      async ({ input, attempt, idempotencyKey }) => {
        seen.push({ attempt, key: idempotencyKey });
        if (attempt < 3) throw new Error('card network down');
        return { charged: input.amount };
      },
      { maxAttempts: 3, initialDelayMs: 50 },
    );
    const m = setup({ actors: { charge } }).createMachine({
      id: 'pay',
      initial: 'charging',
      context: { receipt: null as unknown },
      states: {
        charging: { invoke: { src: 'charge', input: { amount: 12 }, onDone: { target: 'paid', actions: assign({ receipt: ({ event }) => event.output }) }, onError: 'failed' } },
        paid: { type: 'final' },
        failed: { type: 'final' },
      },
    });
    mailroom.workflows.register(m);
    await mailroom.workflows.start('pay', undefined, { id: 'pay-1' });
    const done = await mailroom.workflows.waitFor('pay-1', 'done', { timeoutMs: 15_000 });
    expect(done).toMatchObject({ state: 'paid', context: { receipt: { charged: 12 } }, activities: [] });
    expect(seen.map((s) => s.attempt)).toEqual([1, 2, 3]);
    expect(new Set(seen.map((s) => s.key)).size).toBe(1);
    expect(seen[0]!.key).toMatch(/^pay-1\/0\.pay\.charging\//);
  });

  it('delivers the last failure as the error event, and activityContext() works in plain fromPromise actors', async () => {
    let context: unknown;
    const m = setup({
      actors: {
        flaky: fromPromise(async () => {
          context = activityContext();
          throw new Error('always');
        }),
      },
    }).createMachine({
      id: 'flaky',
      initial: 'trying',
      context: { error: null as unknown },
      states: {
        trying: { invoke: { src: 'flaky', onDone: 'ok', onError: { target: 'gaveUp', actions: assign({ error: ({ event }) => event.error }) } } },
        ok: { type: 'final' },
        gaveUp: { type: 'final' },
      },
    });
    mailroom.workflows.register(m, { activities: { flaky: { maxAttempts: 2, initialDelayMs: 20 } } });
    await mailroom.workflows.start('flaky', undefined, { id: 'flaky-1' });
    const done = await mailroom.workflows.waitFor('flaky-1', 'done', { timeoutMs: 10_000 });
    expect(done).toMatchObject({ state: 'gaveUp', context: { error: { name: 'Error', message: 'always' } } });
    expect(context).toMatchObject({ workflowId: 'flaky-1', attempt: 2 });
  });
});
