import { describe, expect, it } from 'vitest';
import { createActor, type Snapshot } from 'xstate';
import { conversationMachine, conversationStateNames, type ConversationInput } from '../../machines/conversation.machine.ts';

const input: ConversationInput = { from: 'orders.example', to: 'shop.example', subject: 'Quote@Shop', correlation: 'c-1', startedAt: 1_000, timeoutAt: 31_000 };

/** Persist, stop, and bring back from JSON, as the runtime does between events. */
function rehydrate(actor: ReturnType<typeof createActor<typeof conversationMachine>>) {
  const json = JSON.parse(JSON.stringify(actor.getPersistedSnapshot())) as Snapshot<unknown>;
  actor.stop();
  return createActor(conversationMachine, { snapshot: json, input }).start();
}

describe('conversation machine', () => {
  it('waits, and survives a JSON round trip of its snapshot', () => {
    const actor = rehydrate(createActor(conversationMachine, { input }).start());
    expect(actor.getSnapshot().value).toBe('awaitingReply');
    expect(actor.getSnapshot().context).toMatchObject(input);
  });

  it.each([
    [{ type: 'conversation.reply', subject: 'Reply@Quote@Shop', body: { price: 42 }, at: 5 } as const, 'replied', { state: 'replied', reply: { subject: 'Reply@Quote@Shop', body: { price: 42 }, at: 5 } }],
    [{ type: 'conversation.feedback', reason: 'Unknown subject.', at: 6 } as const, 'discarded', { state: 'discarded', reason: 'Unknown subject.' }],
    [{ type: 'conversation.timeout', at: 31_000 } as const, 'timedOut', { state: 'timedOut', timedOutAt: 31_000 }],
  ])('%o ends it as %s, with that outcome', (event, state, outcome) => {
    const actor = rehydrate(createActor(conversationMachine, { input }).start());
    actor.send(event);
    const snapshot = actor.getSnapshot();
    expect(snapshot.value).toBe(state);
    expect(snapshot.status).toBe('done');
    expect(snapshot.output).toEqual({ correlation: 'c-1', ...outcome });
  });

  it('the first answer wins: a timeout after the reply changes nothing', () => {
    const actor = createActor(conversationMachine, { input }).start();
    actor.send({ type: 'conversation.reply', subject: 'R', body: 1, at: 2 });
    const again = rehydrate(actor);
    again.send({ type: 'conversation.timeout', at: 99 });
    expect(again.getSnapshot().value).toBe('replied');
    expect(again.getSnapshot().output).toMatchObject({ state: 'replied' });
  });

  it('names its states, and refuses a malformed input', () => {
    expect(Object.keys(conversationMachine.states).sort()).toEqual([...conversationStateNames].sort());
    const actor = createActor(conversationMachine, { input: { ...input, timeoutAt: -1 } });
    const errors: unknown[] = [];
    actor.subscribe({ error: (e) => errors.push(e) });
    actor.start();
    expect(actor.getSnapshot().status).toBe('error');
    expect(errors).toHaveLength(1);
  });
});
