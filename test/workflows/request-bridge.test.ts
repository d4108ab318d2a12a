/**
 * The pure edges of the request bridge and the record helpers, without NATS: a conversation's
 * outcome → the event of the workflow's request actor; which records a filter lists.
 */
import { describe, expect, it } from 'vitest';
import type { ConversationOutcome } from '../../machines/conversation.machine.ts';
import { outcomeEvent } from '../../src/workflows/request-bridge.ts';
import { matchesFilter, type WorkflowRecord } from '../../src/workflows/workflow-record.ts';
import type { WorkflowFilter } from '../../src/workflows/workflow-types.ts';

describe('outcomeEvent', () => {
  const replied: ConversationOutcome = { state: 'replied', correlation: 'c', reply: { subject: 'Reply@Reserve', body: { ok: true }, at: 1 } };
  const discarded: ConversationOutcome = { state: 'discarded', correlation: 'c', reason: 'no-handler' };
  const timedOut: ConversationOutcome = { state: 'timedOut', correlation: 'c', timedOutAt: 5 };
  it.each([
    ['a reply is the done event, with the outcome as output', replied, { type: 'xstate.done.actor.asker', output: replied }],
    ['a discard is the error event', discarded, { type: 'xstate.error.actor.asker', error: { name: 'ConversationDiscarded', message: 'the request was discarded: no-handler', outcome: discarded } }],
    ['a timeout is the error event', timedOut, { type: 'xstate.error.actor.asker', error: { name: 'ConversationTimedOut', message: 'no reply came before the timeout', outcome: timedOut } }],
  ] as const)('%s', (_what, outcome, expected) => {
    expect(outcomeEvent('asker', outcome)).toEqual(expected);
  });
});

describe('matchesFilter', () => {
  const record = { name: 'order', status: 'running', snapshot: { value: { payment: 'waiting' }, context: null, status: 'active' } } as unknown as WorkflowRecord;
  it.each([
    [{}, true],
    [{ name: 'order' }, true],
    [{ name: 'other' }, false],
    [{ status: 'running' }, true],
    [{ status: 'done' }, false],
    [{ state: 'payment' }, true],
    [{ state: 'payment.waiting' }, true],
    [{ state: { payment: 'charged' } }, false],
    [{ name: 'order', status: 'running', state: 'shipping' }, false],
  ] as [WorkflowFilter, boolean][])('%j → %s', (filter, expected) => {
    expect(matchesFilter(record, filter)).toBe(expected);
  });
});
