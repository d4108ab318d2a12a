/**
 * Durability of workflows with real processes: a workflow killed (SIGKILL) in each of its
 * states resumes in a new process; a delay fires once after a restart that spans its due
 * time, and after a restart of nats-server; two processes racing on one workflow never both
 * advance it; a completed activity is not run again after a restart.
 *
 * The runtimes that get killed run `test/support/workflow-process.ts`, with the machines of
 * `test/support/workflow-machines.ts` (the same module here, so the same versions).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { startNatsServer, type NatsServerHandle } from '../support/nats-server.ts';
import { makeFixture, type Fixture } from '../support/runtime-fixture.ts';
import { waitFor } from '../support/wait-for.ts';
import { alive } from '../support/processes.ts';
import { startWorkflowChild, type WorkflowChild } from '../support/workflow-child.ts';
import { readRuns, workflowMachines, type LifecycleContext, type LifecycleInput } from '../support/workflow-machines.ts';
import { connectNats } from '../../src/transport/connect.ts';
import { createNames } from '../../src/transport/names.ts';
import { startMailroom } from '../../src/mailroom/start-mailroom.ts';
import type { Mailroom } from '../../src/core/mailroom-types.ts';
import type { WorkflowInfo } from '../../src/workflows/workflow-types.ts';

let server: NatsServerHandle;
let nc: NatsConnection;
const children: WorkflowChild[] = [];
const runtimes: Mailroom[] = [];

beforeAll(async () => {
  server = await startNatsServer();
  nc = await connectNats({ url: server.url });
});
afterAll(async () => {
  for (const child of children) await child.kill('SIGKILL');
  for (const runtime of runtimes) await runtime.stop();
  await nc?.close();
  await server?.stop();
});

/** A fresh prefix (streams, consumers, bucket) per test, on this file's nats-server. */
function fixture(): Promise<Fixture> {
  // The workflows use no inbox; a short ack wait anyway, as for any test that kills a runtime.
  return makeFixture({ natsUrl: server.url, local: ['shop.example'], extra: { delivery: { ackWait: '2s' } } });
}

async function child(f: Fixture, name: string, dieOn?: { id?: string; event: string }): Promise<WorkflowChild> {
  const started = await startWorkflowChild({ input: f.input, dir: f.dir, ...(dieOn ? { dieOn } : {}) }, name);
  children.push(started);
  return started;
}

async function runtime(f: Fixture): Promise<Mailroom> {
  const started = await startMailroom(f.config, { http: false, outboxWorker: false, workflows: workflowMachines, onError: () => undefined });
  runtimes.push(started);
  return started;
}

/** Polls `read` until the workflow satisfies `test`. */
function until(read: () => Promise<WorkflowInfo | undefined>, test: (info: WorkflowInfo) => boolean, what: string, timeoutMs = 10_000): Promise<WorkflowInfo> {
  return waitFor(async () => {
    const info = await read();
    return info && test(info) ? info : undefined;
  }, { what, timeoutMs, intervalMs: 25 });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/** Waits until the fixture's timer and task queues are empty: nothing is left that could advance a workflow. */
async function drained(f: Fixture): Promise<void> {
  const names = createNames(f.prefix);
  const jsm = await jetstreamManager(nc);
  const queued = async () => (await jsm.streams.info(names.streams.timers)).state.messages + (await jsm.streams.info(names.streams.tasks)).state.messages;
  await waitFor(async () => (await queued()) === 0, { what: 'the timer and task queues to drain', timeoutMs: 15_000, intervalMs: 100 });
}
const events = (info: WorkflowInfo) => info.history.map((h) => h.event);
const states = (info: WorkflowInfo) => info.history.map((h) => h.state);
const seqs = (info: WorkflowInfo) => info.history.map((h) => h.seq);
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, n) => from + n);

const COOLED = 'xstate.after.cool.lifecycle.cooling';
const CHARGED = 'xstate.done.actor.charge';
const RANG = 'xstate.after.alarm.alarm.armed';
const LIFECYCLE_EVENTS = ['xstate.init', 'approve', COOLED, CHARGED, 'ship'];
const LIFECYCLE_STATES = ['awaitingApproval', 'cooling', 'charging', 'packed', 'shipped'];

describe('a workflow killed with SIGKILL in each of its states', () => {
  it('resumes in a new process: waiting for an event, waiting on a delay, running an activity (run again, same idempotency key), after it, ended', async () => {
    const f = await fixture();
    const log = join(f.dir, 'runs.jsonl');
    const input = (coolMs: number, slowMs: number): LifecycleInput => ({ log, coolMs, slowMs });
    const first = await child(f, 'first');

    // Ended: through every state, then shipped.
    await first.start('lifecycle', input(20, 20), 'w-ended');
    await first.send('w-ended', { type: 'approve' });
    await until(() => first.get('w-ended'), (w) => w.state === 'packed', 'w-ended packed');
    const ended = await first.send('w-ended', { type: 'ship' });
    expect(ended).toMatchObject({ status: 'done', state: 'shipped' });
    // After its activity, waiting for an event.
    await first.start('lifecycle', input(20, 20), 'w-packed');
    await first.send('w-packed', { type: 'approve' });
    await until(() => first.get('w-packed'), (w) => w.state === 'packed', 'w-packed packed');
    // Waiting for an event.
    await first.start('lifecycle', input(20, 20), 'w-event');
    // Running an activity of 2.5 s: killed once its run has started.
    await first.start('lifecycle', input(20, 2_500), 'w-activity');
    await first.send('w-activity', { type: 'approve' });
    await waitFor(() => readRuns(log, 'w-activity').length > 0, { what: 'the activity of w-activity started' });
    // Waiting on a delay of 2.5 s.
    await first.start('lifecycle', input(2_500, 20), 'w-delay');
    await first.send('w-delay', { type: 'approve' });

    const before = new Map<string, WorkflowInfo>();
    for (const id of ['w-ended', 'w-packed', 'w-event', 'w-activity', 'w-delay']) before.set(id, (await first.get(id))!);
    expect(Object.fromEntries([...before].map(([id, w]) => [id, w.state]))).toEqual({
      'w-ended': 'shipped',
      'w-packed': 'packed',
      'w-event': 'awaitingApproval',
      'w-activity': 'charging',
      'w-delay': 'cooling',
    });
    expect(before.get('w-activity')!.activities.map((a) => a.id)).toEqual(['charge']);
    expect(before.get('w-delay')!.timers.map((t) => t.event)).toEqual([COOLED]);
    await first.kill('SIGKILL');
    expect(alive(first.pid)).toBe(false);
    // Killed mid-run: the activity started and did not end.
    expect(readRuns(log, 'w-activity').map((r) => [r.phase, r.pid])).toEqual([['start', first.pid]]);
    expect(before.get('w-delay')!.timers[0]!.due).toBeGreaterThan(Date.now());

    const second = await child(f, 'second');
    const context = (w: WorkflowInfo) => w.context as LifecycleContext;

    // Waiting for an event: it takes the event in the new process and runs to its end there.
    await second.send('w-event', { type: 'approve' });
    await until(() => second.get('w-event'), (w) => w.state === 'packed', 'w-event packed');
    const event = await second.send('w-event', { type: 'ship' });
    expect(event).toMatchObject({ status: 'done', state: 'shipped', seq: 5 });
    expect(events(event)).toEqual(LIFECYCLE_EVENTS);
    expect(states(event)).toEqual(LIFECYCLE_STATES);
    expect(context(event)).toMatchObject({ approvals: 1, cooled: 1, shipments: 1, receipt: { pid: second.pid } });
    expect(readRuns(log, 'w-event').map((r) => [r.phase, r.pid])).toEqual([['start', second.pid], ['end', second.pid]]);

    // Waiting on a delay: the new process fires it, once.
    const delay = await until(() => second.get('w-delay'), (w) => w.state === 'packed', 'w-delay packed');
    expect(events(delay)).toEqual(LIFECYCLE_EVENTS.slice(0, 4));
    expect(seqs(delay)).toEqual([1, 2, 3, 4]);
    expect(context(delay)).toMatchObject({ approvals: 1, cooled: 1, receipt: { pid: second.pid } });
    expect(readRuns(log, 'w-delay').map((r) => [r.phase, r.pid])).toEqual([['start', second.pid], ['end', second.pid]]);
    expect(delay.history[2]!.at).toBeGreaterThanOrEqual(before.get('w-delay')!.timers[0]!.due);

    // Running an activity: its task comes back to the new process (ack wait 5 s), which runs it
    // again from the start, with the same idempotency key, and the workflow goes on once.
    const activity = await until(() => second.get('w-activity'), (w) => w.state === 'packed', 'w-activity packed', 20_000);
    const runs = readRuns(log, 'w-activity');
    expect(runs.map((r) => [r.phase, r.pid])).toEqual([['start', first.pid], ['start', second.pid], ['end', second.pid]]);
    expect(new Set(runs.map((r) => r.key)).size).toBe(1);
    expect(runs[0]!.key).toMatch(/^w-activity\/charge\//);
    expect(context(activity)).toMatchObject({ approvals: 1, cooled: 1, receipt: { key: runs[0]!.key, pid: second.pid } });
    expect(events(activity)).toEqual(LIFECYCLE_EVENTS.slice(0, 4));
    expect(seqs(activity)).toEqual([1, 2, 3, 4]);
    expect(activity.activities).toEqual([]);

    // After its activity: the event in the new process ends it; the activity did not run again.
    const packed = await second.send('w-packed', { type: 'ship' });
    expect(packed).toMatchObject({ status: 'done', state: 'shipped', seq: 5, output: { receipt: { pid: first.pid } } });
    expect(events(packed)).toEqual(LIFECYCLE_EVENTS);
    expect(readRuns(log, 'w-packed').map((r) => [r.phase, r.pid])).toEqual([['start', first.pid], ['end', first.pid]]);

    // Ended: as it was, and it takes no events.
    const stillEnded = await second.get('w-ended');
    expect(stillEnded).toEqual(before.get('w-ended'));
    expect(stillEnded).toMatchObject({ status: 'done', state: 'shipped', seq: 5, output: { receipt: { pid: first.pid } } });
    await expect(second.send('w-ended', { type: 'ship' })).rejects.toMatchObject({ errorName: 'WorkflowNotRunningError' });
    expect(readRuns(log, 'w-ended').map((r) => [r.phase, r.pid])).toEqual([['start', first.pid], ['end', first.pid]]);

    // Nothing moves any more: no late timer or task advanced any of them.
    await drained(f);
    for (const [id, seq] of Object.entries({ 'w-ended': 5, 'w-packed': 5, 'w-event': 5, 'w-activity': 4, 'w-delay': 4 })) expect((await second.get(id))?.seq, id).toBe(seq);
    expect(readRuns(log)).toHaveLength(11);
    await second.kill('SIGTERM');
  }, 45_000);
});

describe('a delay across a restart of its process', () => {
  it('killed before the delay is due and started again after: it fires once, within a second of the new process being ready', async () => {
    const f = await fixture();
    const first = await child(f, 'first');
    const started = await first.start('alarm', { delayMs: 3_000 }, 'alarm-1');
    const due = started.timers[0]!.due;
    // Long enough for the timer worker to have put the timer back with its delay.
    await sleep(300);
    await first.kill('SIGKILL');
    expect(Date.now()).toBeLessThan(due - 1_000);
    expect((await first.exited).signal).toBe('SIGKILL');

    await sleep(due + 500 - Date.now());
    const second = await child(f, 'second');
    expect(second.readyAt).toBeGreaterThan(due);
    const rung = await until(() => second.get('alarm-1'), (w) => w.state === 'ringing', 'alarm-1 ringing');
    const fired = rung.history.find((h) => h.event === RANG)!;
    expect(fired.at).toBeGreaterThanOrEqual(due);
    // Loose: the timer is in the stream and due; the new process's worker takes it as it starts.
    expect(fired.at - second.readyAt).toBeLessThanOrEqual(1_000);

    // Once: one step on the delay, the counter at 1, no timer left, and nothing more comes.
    await drained(f);
    const later = (await second.get('alarm-1'))!;
    expect(later).toMatchObject({ status: 'running', state: 'ringing', seq: 2, context: { rings: 1 }, timers: [] });
    expect(events(later)).toEqual(['xstate.init', RANG]);
    const stopped = await second.send('alarm-1', { type: 'stop' });
    expect(stopped).toMatchObject({ status: 'done', seq: 3, context: { rings: 1 } });
    await second.kill('SIGTERM');
  }, 30_000);
});

describe('a delay across a restart of nats-server', () => {
  it('nats-server stopped while a delay is pending and started again (same port and store) after its due time: the delay fires, once', async () => {
    const f = await fixture();
    const mailroom = await runtime(f);
    const started = await mailroom.workflows.start('alarm', { delayMs: 2_000 }, { id: 'alarm-nats' });
    const due = started.timers[0]!.due;
    await sleep(300);
    const pid = server.pid;
    await server.kill('SIGTERM');
    expect(Date.now()).toBeLessThan(due);
    await sleep(due + 500 - Date.now());
    await server.restart();
    expect(server.pid).not.toBe(pid);
    const restartedAt = Date.now();

    const rung = await until(() => mailroom.workflows.get('alarm-nats'), (w) => w.state === 'ringing', 'alarm-nats ringing after the restart', 20_000);
    expect(rung.history.find((h) => h.event === RANG)!.at).toBeGreaterThanOrEqual(restartedAt);
    await drained(f);
    const later = (await mailroom.workflows.get('alarm-nats'))!;
    expect(later).toMatchObject({ state: 'ringing', seq: 2, context: { rings: 1 }, timers: [] });
    expect(events(later)).toEqual(['xstate.init', RANG]);
  }, 40_000);
});

describe('two processes racing on one workflow', () => {
  it('never both advance it: every event is counted once, and the history is steps 1..n without gaps or repeats', async () => {
    const f = await fixture();
    const racer = await child(f, 'racer');
    const mailroom = await runtime(f);
    await mailroom.workflows.start('tally', undefined, { id: 'race-1' });
    const perSide = 250;
    const startAt = Date.now() + 300;
    const here = (async () => {
      await sleep(startAt - Date.now());
      let sent = 0;
      const errors: string[] = [];
      for (let n = 0; n < perSide; n++) {
        try {
          await mailroom.workflows.send('race-1', { type: 'inc', by: 'p' });
          sent++;
        } catch (error) {
          errors.push(error instanceof Error ? error.message : String(error));
        }
      }
      return { sent, errors };
    })();
    const [there, mine] = await Promise.all([racer.sendMany('race-1', { type: 'inc', by: 'c' }, perSide, startAt), here]);
    expect(there.errors).toEqual([]);
    expect(mine.errors).toEqual([]);
    expect(there.sent + mine.sent).toBe(2 * perSide);

    const final = (await mailroom.workflows.get('race-1'))!;
    const { count, order } = final.context as { count: number; order: string };
    expect(count).toBe(2 * perSide);
    expect(order.replace(/p/g, '')).toHaveLength(perSide);
    expect(order.replace(/c/g, '')).toHaveLength(perSide);
    // They did race: the steps of the two processes interleave.
    const switches = [...order].filter((by, n) => n > 0 && by !== order[n - 1]).length;
    expect(switches).toBeGreaterThan(10);
    expect(final.seq).toBe(2 * perSide + 1);
    expect(seqs(final)).toEqual(range(1, 2 * perSide + 1));
    expect(events(final)).toEqual(['xstate.init', ...Array<string>(2 * perSide).fill('inc')]);
    await racer.kill('SIGTERM');
  }, 30_000);
});

describe('a completed activity across a restart', () => {
  it('killed right after the activity\'s end was stored, before its task was acked: the task comes back and the activity does not run again', async () => {
    const f = await fixture();
    const log = join(f.dir, 'runs.jsonl');
    const names = createNames(f.prefix);
    const jsm = await jetstreamManager(nc);
    const queued = async () => (await jsm.streams.info(names.streams.timers)).state.messages + (await jsm.streams.info(names.streams.tasks)).state.messages;

    // It kills itself in the listener of the step that stored the activity's result.
    const first = await child(f, 'first', { id: 'once-1', event: CHARGED });
    await first.start('lifecycle', { log, coolMs: 20, slowMs: 200 } satisfies LifecycleInput, 'once-1');
    await first.send('once-1', { type: 'approve' });
    expect((await first.exited).signal).toBe('SIGKILL');
    expect(readRuns(log).map((r) => [r.phase, r.pid])).toEqual([['start', first.pid], ['end', first.pid]]);
    // The task message was never acked: it is still queued, and will come back.
    expect(await queued()).toBe(1);

    const second = await child(f, 'second');
    const packed = (await second.get('once-1'))!;
    expect(packed).toMatchObject({ state: 'packed', seq: 4, activities: [], context: { receipt: { pid: first.pid } } });
    // The task comes back after its ack wait (5 s), is seen as done, and acked: the queues empty.
    await waitFor(async () => (await queued()) === 0, { what: 'the redelivered task handled', timeoutMs: 15_000, intervalMs: 100 });
    // Delivered twice: to the process that died, then to this one, which dropped it.
    expect((await jsm.consumers.info(names.streams.tasks, names.consumers.tasks)).delivered.consumer_seq).toBeGreaterThanOrEqual(2);
    expect(readRuns(log).map((r) => [r.phase, r.pid])).toEqual([['start', first.pid], ['end', first.pid]]);

    const done = await second.send('once-1', { type: 'ship' });
    expect(done).toMatchObject({ status: 'done', state: 'shipped', seq: 5, output: { receipt: { pid: first.pid } } });
    expect(events(done)).toEqual(LIFECYCLE_EVENTS);
    expect(readRuns(log)).toHaveLength(2);
    await second.kill('SIGTERM');
  }, 30_000);
});
