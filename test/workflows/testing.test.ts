/**
 * The test kit (`mailroom/testing`): an ephemeral nats-server and runtime, and a clock the
 * test moves, so durable delays of minutes fire at once and in order.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assign, setup } from 'xstate';
import { createTestMailroom, TestClock, type TestMailroom } from 'mailroom/testing';
import { activity } from 'mailroom';

const reminders = setup({ types: { context: {} as { reminded: number } }, actors: { escalate: activity(async () => 'called the customer') } }).createMachine({
  id: 'reminders',
  context: { reminded: 0 },
  initial: 'waiting',
  states: {
    waiting: {
      after: { 900_000: { target: 'waiting', reenter: true, actions: assign({ reminded: ({ context }) => context.reminded + 1 }) } },
      on: { paid: 'paid' },
      always: { guard: ({ context }) => context.reminded >= 3, target: 'escalated' },
    },
    escalated: { invoke: { src: 'escalate', onDone: 'closed' } },
    paid: { type: 'final' },
    closed: { type: 'final' },
  },
});

let t: TestMailroom;
beforeAll(async () => {
  t = await createTestMailroom({ workflows: [{ machine: reminders }] });
});
afterAll(async () => {
  await t?.stop();
});

describe('mailroom/testing', () => {
  it('fires a 15-minute delay when the clock is moved 15 minutes, not before', async () => {
    await t.mailroom.workflows.start('reminders', undefined, { id: 'r-1' });
    await t.advance('14m');
    expect(await t.mailroom.workflows.get('r-1')).toMatchObject({ state: 'waiting', context: { reminded: 0 } });
    await t.advance('1m');
    expect(await t.mailroom.workflows.get('r-1')).toMatchObject({ state: 'waiting', context: { reminded: 1 } });
  });

  it('skips through repeated delays and the activity they lead to, in order', async () => {
    await t.mailroom.workflows.start('reminders', undefined, { id: 'r-2' });
    for (let i = 0; i < 3; i++) await t.advance('15m');
    const info = await t.mailroom.workflows.get('r-2');
    expect(info).toMatchObject({ status: 'done', state: 'closed', context: { reminded: 3 } });
    expect(info!.history.map((h) => h.event)).toEqual([
      'xstate.init',
      'xstate.after.900000.reminders.waiting',
      'xstate.after.900000.reminders.waiting',
      'xstate.after.900000.reminders.waiting',
      'xstate.done.actor.0.reminders.escalated',
    ]);
  });

  it('has a clock that only moves forward, by hand', () => {
    const clock = new TestClock(1_000);
    expect(clock.now()).toBe(1_000);
    expect(clock.advanceBy('2s')).toBe(3_000);
    expect(() => clock.advanceBy(-1)).toThrow(RangeError);
    expect(() => clock.set(0)).toThrow(RangeError);
  });
});
