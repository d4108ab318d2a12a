/**
 * The workflow step as a pure function, without NATS: rows of a record and what happened →
 * the next record and its effects. Tokens come from a counter, time is passed in.
 */
import { describe, expect, it } from 'vitest';
import { assign, fromPromise, raise, sendTo, setup, type AnyStateMachine } from 'xstate';
import { fromRequest } from '../../src/workflows/activity.ts';
import { planStart, planStep, planTask, ORPHAN_GRACE_MS, type StepInput, type StepPlan } from '../../src/workflows/plan-step.ts';
import { resumeEffects } from '../../src/workflows/step-effects.ts';
import { WorkflowRegistry, type WorkflowKind } from '../../src/workflows/workflow-registry.ts';
import type { WorkflowRecord } from '../../src/workflows/workflow-record.ts';
import type { WorkflowOptions } from '../../src/workflows/workflow-types.ts';
import { WorkflowNotRunningError } from '../../src/workflows/workflow-errors.ts';

const T0 = 1_000_000;
const T1 = T0 + 5_000;

/** Tokens `id-1`, `id-2`, … */
function counterIds(): () => string {
  let n = 0;
  return () => `id-${++n}`;
}

function kindOf(machine: AnyStateMachine, options: WorkflowOptions = {}, earlier: readonly [AnyStateMachine, WorkflowOptions][] = []): WorkflowKind {
  const registry = new WorkflowRegistry();
  for (const [m, o] of earlier) registry.add(m, o);
  const { name } = registry.add(machine, options);
  return registry.kind(name)!;
}

const counter = setup({ types: { context: {} as { count: number }, events: {} as { type: 'inc' } | { type: 'finish' } | { type: 'explode' } } }).createMachine({
  id: 'counter',
  context: { count: 0 },
  initial: 'counting',
  states: {
    counting: {
      on: {
        inc: { actions: assign({ count: ({ context }) => context.count + 1 }) },
        finish: 'finished',
        explode: {
          guard: () => {
            throw new Error('guard blew up');
          },
          target: 'finished',
        },
      },
    },
    finished: { type: 'final' },
  },
  output: ({ context }) => ({ total: context.count }),
});
const counterKind = kindOf(counter, { version: 'v1' });

const timed = setup({}).createMachine({
  id: 'timed',
  initial: 'waiting',
  states: {
    waiting: { after: { 300: 'ticked' }, on: { skip: 'skipped' } },
    ticked: { entry: raise({ type: 'later' }, { delay: 200 }), on: { later: 'done' } },
    skipped: { on: { end: 'done' } },
    done: { type: 'final' },
  },
});
const timedKind = kindOf(timed, { version: 'v1' });

const noted: string[] = [];
const paying = setup({
  actors: { charge: fromPromise(async () => 'ok'), ask: fromRequest() },
  actions: { note: () => void noted.push('paid') },
}).createMachine({
  id: 'pay',
  initial: 'charging',
  states: {
    charging: {
      invoke: { id: 'charger', src: 'charge', input: { amount: 12 }, onDone: { target: 'paid', actions: 'note' } },
      on: { abort: 'aborted', poke: { actions: sendTo('charger', { type: 'hurry' }) }, ask: 'asking' },
    },
    asking: { invoke: { id: 'asker', src: 'ask', input: { from: 'shop.example', to: 'warehouse.example', subject: 'Reserve' } } },
    paid: { type: 'final' },
    aborted: { type: 'final' },
  },
});
const payKind = kindOf(paying, { version: 'v1' });

/** A record as {@link planStart} makes it at T0, then steps through `events` (each at T0). */
function recordOf(kind: WorkflowKind, id: string, ...events: StepInput[]): WorkflowRecord {
  let record = planStart(kind.latest, id, undefined, T0, counterIds()).record;
  for (const input of events) {
    const plan = planStep(record, kind, input, T0, counterIds());
    if (plan.outcome !== 'applied') throw new Error(`setup step ${input.type} was ${plan.outcome}`);
    record = plan.record;
  }
  return record;
}
const ev = (type: string): StepInput => ({ type: 'event', event: { type } });
const with_ = (record: WorkflowRecord, change: Partial<WorkflowRecord>): WorkflowRecord => ({ ...structuredClone(record), ...change });

describe('planStart', () => {
  it('records the first step and publishes the timers and tasks it asks for', () => {
    expect(planStart(counterKind.latest, 'c-1', undefined, T0, counterIds())).toMatchObject({
      record: { id: 'c-1', name: 'counter', version: 'v1', status: 'running', seq: 1, createdAt: T0, snapshot: { value: 'counting', context: { count: 0 } }, history: [{ seq: 1, at: T0, event: 'xstate.init', state: 'counting' }] },
      effects: [],
    });
    expect(planStart(timedKind.latest, 't-1', undefined, T0, counterIds()).effects).toEqual([
      { type: 'schedule-timer', msgId: 't-1/id-1', due: T0 + 300, payload: { id: 't-1', key: 'xstate.after.300.timed.waiting', token: 'id-1', seq: 1, createdAt: T0 } },
    ]);
    const pay = planStart(payKind.latest, 'p-1', undefined, T0, counterIds());
    expect(pay.record.activities).toEqual({ charger: { token: 'id-1', src: 'charge', input: { amount: 12 }, kind: 'activity', startedAt: T0 } });
    expect(pay.effects).toEqual([{ type: 'schedule-task', msgId: 'p-1/id-1/1', due: T0, payload: { id: 'p-1', child: 'charger', token: 'id-1', seq: 1, createdAt: T0, attempt: 1 } }]);
  });
});

const counting = recordOf(counterKind, 'c-1');
const done = recordOf(counterKind, 'c-2', ev('inc'), ev('finish'));
const waiting = recordOf(timedKind, 't-1');
const charging = recordOf(payKind, 'p-1');
const timerOfWaiting = { id: 't-1', key: 'xstate.after.300.timed.waiting', token: waiting.timers['xstate.after.300.timed.waiting']!.token, seq: 1, createdAt: T0 };
const parked = with_(counting, { status: 'parked', parked: { reason: 'test', at: T0, event: { type: 'inc' } } });
const oldVersion = with_(counting, { version: 'v0' });

type Row = readonly [what: string, record: WorkflowRecord, kind: WorkflowKind | undefined, input: StepInput, now: number, expected: Record<string, unknown>];

const rows: Row[] = [
  // Events
  ['an event advances the machine: seq, context, history', counting, counterKind, ev('inc'), T1, { outcome: 'applied', label: 'inc', record: { seq: 2, updatedAt: T1, snapshot: { context: { count: 1 } }, history: [{ event: 'xstate.init' }, { seq: 2, at: T1, event: 'inc', state: 'counting' }] }, effects: [] }],
  ['a final state ends it as done, with its output', recordOf(counterKind, 'c-3', ev('inc')), counterKind, ev('finish'), T1, { outcome: 'applied', record: { status: 'done', seq: 3, snapshot: { value: 'finished', output: { total: 1 } } } }],
  ['an ended workflow refuses events', done, counterKind, ev('inc'), T1, { outcome: 'refused', error: expect.any(WorkflowNotRunningError) }],
  ['a parked workflow refuses events, with its reason', parked, counterKind, ev('inc'), T1, { outcome: 'refused', error: { message: expect.stringContaining('is parked: test') } }],
  ['an envelope seen before is dropped', with_(counting, { dedupe: ['a/b/inc'] }), counterKind, { type: 'event', event: { type: 'inc' }, dedupeKey: 'a/b/inc' }, T1, { outcome: 'drop' }],
  ['a new envelope is remembered', counting, counterKind, { type: 'event', event: { type: 'inc' }, dedupeKey: 'a/b/inc' }, T1, { outcome: 'applied', record: { dedupe: ['a/b/inc'], snapshot: { context: { count: 1 } } } }],
  ['a kind this process does not run: elsewhere', counting, undefined, ev('inc'), T1, { outcome: 'elsewhere' }],
  // Timers
  ['its timer delivers its event and leaves the record', waiting, timedKind, { type: 'timer', timer: timerOfWaiting }, T1, { outcome: 'applied', label: 'xstate.after.300.timed.waiting', record: { seq: 2, snapshot: { value: 'ticked' }, timers: { 'anonymous.id-1': { token: 'id-2', due: T1 + 200, event: { type: 'later' } } } } }],
  ['a delayed raise becomes a timer published before the store', waiting, timedKind, { type: 'timer', timer: timerOfWaiting }, T1, { effects: [{ type: 'schedule-timer', msgId: 't-1/id-2', due: T1 + 200, payload: { id: 't-1', key: 'anonymous.id-1', token: 'id-2', seq: 2, createdAt: T1 } }] }],
  ['a timer with another token is stale: dropped', waiting, timedKind, { type: 'timer', timer: { ...timerOfWaiting, token: 'old' } }, T1, { outcome: 'drop' }],
  ['a timer of a step not visible yet waits', waiting, timedKind, { type: 'timer', timer: { ...timerOfWaiting, key: 'k', token: 'new', seq: 2, createdAt: T0 } }, T0 + ORPHAN_GRACE_MS - 1, { outcome: 'later' }],
  ['… until the grace is over: dropped', waiting, timedKind, { type: 'timer', timer: { ...timerOfWaiting, key: 'k', token: 'new', seq: 2, createdAt: T0 } }, T0 + ORPHAN_GRACE_MS, { outcome: 'drop' }],
  ['a timer of an ended workflow is dropped', with_(waiting, { status: 'cancelled' }), timedKind, { type: 'timer', timer: timerOfWaiting }, T1, { outcome: 'drop' }],
  ['leaving a state drops its timer from the record', waiting, timedKind, ev('skip'), T1, { outcome: 'applied', record: { snapshot: { value: 'skipped' }, timers: {} }, effects: [] }],
  // Activities
  ['an activity that finished delivers its event, leaves the record and the snapshot', charging, payKind, { type: 'finished', child: 'charger', token: 'id-1', event: { type: 'xstate.done.actor.charger', output: 'ok' } }, T1, { outcome: 'applied', record: { status: 'done', snapshot: { value: 'paid', children: {} }, activities: {} }, effects: [{ type: 'run-action', action: { type: 'note' } }] }],
  ['a result for another run of the activity is dropped', charging, payKind, { type: 'finished', child: 'charger', token: 'id-0', event: { type: 'xstate.done.actor.charger' } }, T1, { outcome: 'drop' }],
  ['ending while an activity runs stops it after the store', charging, payKind, ev('abort'), T1, { outcome: 'applied', record: { status: 'done', activities: {}, timers: {} }, effects: [{ type: 'stop-activity', token: 'id-1' }] }],
  ['sendTo another actor is reported, not sent', charging, payKind, ev('poke'), T1, { outcome: 'applied', record: { snapshot: { value: 'charging' } }, effects: [{ type: 'report', context: 'workflows', error: { message: expect.stringContaining('sendTo charger is not supported') } }] }],
  ['leaving an invoking state stops its activity and starts the next (a request)', charging, payKind, ev('ask'), T1, { outcome: 'applied', record: { activities: { asker: { token: 'id-1', kind: 'request', input: { from: 'shop.example', to: 'warehouse.example', subject: 'Reserve' } } } }, effects: [{ type: 'stop-activity', token: 'id-1' }, { type: 'schedule-task', msgId: 'p-1/id-1/1', due: T1, payload: { child: 'asker', seq: 2, attempt: 1 } }] }],
  // Cancel and resume
  ['cancel ends it, drops timers and activities, stops what runs', charging, payKind, { type: 'cancel', reason: 'no more' }, T1, { outcome: 'applied', label: 'mailroom.cancel', record: { status: 'cancelled', error: { name: 'Cancelled', message: 'no more' }, activities: {}, timers: {}, seq: 2, history: [{}, { event: 'mailroom.cancel', state: 'charging' }] }, effects: [{ type: 'stop-activity', token: 'id-1' }] }],
  ['cancel works on a kind this process does not run', counting, undefined, { type: 'cancel', reason: 'x' }, T1, { outcome: 'applied', record: { status: 'cancelled' } }],
  ['cancel refuses an ended workflow', done, counterKind, { type: 'cancel', reason: 'x' }, T1, { outcome: 'refused', error: expect.any(WorkflowNotRunningError) }],
  ['resume runs the event it was parked on', parked, counterKind, { type: 'resume' }, T1, { outcome: 'applied', label: 'inc', record: { status: 'running', snapshot: { context: { count: 1 } } } }],
  ['resume without an event is a step of its own', with_(counting, { status: 'parked', parked: { reason: 'r', at: T0 } }), counterKind, { type: 'resume' }, T1, { outcome: 'applied', label: 'mailroom.resume', record: { status: 'running', seq: 2 } }],
  ['resume refuses a running workflow', counting, counterKind, { type: 'resume' }, T1, { outcome: 'refused', error: { message: expect.stringContaining('only a parked workflow can be resumed') } }],
  // Versions and failures
  ['an unknown version parks it, untouched, and reports', oldVersion, counterKind, ev('inc'), T1, { outcome: 'applied', record: { status: 'parked', version: 'v0', seq: 2, snapshot: { context: { count: 0 } }, parked: { at: T1, event: { type: 'inc' }, reason: expect.stringContaining('its version v0 of counter is not registered') } }, effects: [{ type: 'report', context: 'workflows', error: { message: expect.stringContaining('workflow c-1 (counter) is parked') } }] }],
  ['a compatible version runs it and records its version', oldVersion, kindOf(counter, { version: 'v2', compatibleWith: ['v0'] }), ev('inc'), T1, { outcome: 'applied', record: { status: 'running', version: 'v2', snapshot: { context: { count: 1 } } } }],
  [
    'a migration moves the snapshot and says so in the history',
    oldVersion,
    kindOf(counter, { version: 'v2', migrations: { v0: (s) => ({ ...s, context: { count: 10 } }) } }),
    ev('inc'),
    T1,
    { outcome: 'applied', record: { version: 'v2', snapshot: { context: { count: 11 } }, history: [{}, { seq: 1, event: 'mailroom.migrate v0 → v2' }, { seq: 2, event: 'inc' }] } },
  ],
  ['a migration that throws parks it', oldVersion, kindOf(counter, { version: 'v2', migrations: { v0: () => { throw new Error('nope'); } } }), ev('inc'), T1, { outcome: 'applied', record: { status: 'parked', parked: { reason: expect.stringContaining('threw: nope') } } }],
  ['a guard that throws parks it with the event, the record as it was', counting, counterKind, ev('explode'), T1, { outcome: 'applied', label: 'explode', record: { status: 'parked', version: 'v1', seq: 2, snapshot: { value: 'counting', context: { count: 0 } }, parked: { event: { type: 'explode' }, reason: expect.stringContaining('the step on explode failed in version v1') } } }],
];

describe('planStep', () => {
  it.each(rows)('%s', (_what, record, kind, input, now, expected) => {
    const before = structuredClone(record);
    const plan: StepPlan = planStep(record, kind, input, now, counterIds());
    expect(plan).toMatchObject(expected);
    if ('effects' in expected && 'effects' in plan) expect(plan.effects).toHaveLength((expected['effects'] as unknown[]).length);
    // The input record is never changed.
    expect(record).toEqual(before);
  });

  it('keeps the newest history entries only, by the definition\'s limit', () => {
    const kind = kindOf(counter, { version: 'v1', historyLimit: 2 });
    const plan = planStep(recordOf(kind, 'c-9', ev('inc'), ev('inc')), kind, ev('inc'), T1, counterIds());
    expect(plan).toMatchObject({ record: { seq: 4, history: [{ seq: 3 }, { seq: 4 }] } });
  });

  it('unparks on resume: the parked reason leaves the record', () => {
    const plan = planStep(parked, counterKind, { type: 'resume' }, T1, counterIds());
    expect(plan.outcome === 'applied' && plan.record).not.toHaveProperty('parked');
  });

  it('leaves custom actions to run after the store', () => {
    noted.length = 0;
    planStep(charging, payKind, { type: 'finished', child: 'charger', token: 'id-1', event: { type: 'xstate.done.actor.charger', output: 'ok' } }, T1, counterIds());
    expect(noted).toEqual([]);
  });
});

describe('planTask', () => {
  const asking = planStep(charging, payKind, ev('ask'), T1, counterIds());
  const askingRecord = asking.outcome === 'applied' ? asking.record : charging;
  const task = { id: 'p-1', child: 'charger', token: 'id-1', seq: 1, createdAt: T0, attempt: 1 };
  const cases: readonly [string, WorkflowRecord, WorkflowKind | undefined, typeof task, Record<string, unknown>][] = [
    ['an activity of the workflow runs with its logic', charging, payKind, task, { outcome: 'run', activity: { src: 'charge' }, definition: { version: 'v1' }, logic: expect.anything() }],
    ['a request starts a conversation', askingRecord, payKind, { ...task, child: 'asker', seq: 2 }, { outcome: 'request', activity: { kind: 'request' } }],
    ['a task of an ended workflow is dropped', with_(charging, { status: 'done' }), payKind, task, { outcome: 'drop' }],
    ['a task with another token is dropped', charging, payKind, { ...task, token: 'old' }, { outcome: 'drop' }],
    ['a task of a step not visible yet waits', charging, payKind, { ...task, token: 'new', seq: 2 }, { outcome: 'later' }],
    ['a kind this process does not run: elsewhere', charging, undefined, task, { outcome: 'elsewhere' }],
    ['a version without the logic fails the activity', with_(charging, { snapshot: { ...charging.snapshot, children: {} } }), payKind, task, { outcome: 'finish', event: { type: 'xstate.error.actor.charger', error: { name: 'ActivityNotFound' } } }],
  ];
  it.each(cases)('%s', (_what, record, kind, payload, expected) => {
    expect(planTask(record, kind, payload, T1)).toMatchObject(expected);
  });
});

describe('resumeEffects', () => {
  it('schedules every timer and activity of the record again, at its seq', () => {
    const record = with_(waiting, { seq: 4, activities: { a: { token: 'tok', src: 'a', input: null, kind: 'activity', startedAt: T0 } } });
    expect(resumeEffects(record, T1)).toEqual([
      { type: 'schedule-timer', msgId: `t-1/${timerOfWaiting.token}/resume/4`, due: T0 + 300, payload: { id: 't-1', key: timerOfWaiting.key, token: timerOfWaiting.token, seq: 4, createdAt: T1 } },
      { type: 'schedule-task', msgId: 't-1/tok/resume/4', due: T1, payload: { id: 't-1', child: 'a', token: 'tok', seq: 4, createdAt: T1, attempt: 1 } },
    ]);
  });
});
