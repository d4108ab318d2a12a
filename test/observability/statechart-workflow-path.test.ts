/** A workflow placed on its statechart: active paths of a state value, visited states, taken transitions, the events it takes. */
import { describe, expect, it } from 'vitest';
import { createMachine } from 'xstate';
import { layoutStatechart } from '../../src/observability/dashboard/statechart-layout.ts';
import { activePaths, workflowPath } from '../../src/observability/dashboard/workflow-path.ts';
import type { WorkflowHistoryEntry } from '../../src/workflows/workflow-types.ts';

const order = createMachine({
  id: 'order',
  initial: 'cart',
  states: {
    cart: { on: { checkout: 'paying', abandon: 'abandoned' } },
    paying: {
      initial: 'charging',
      states: { charging: { on: { declined: 'retryWait' } }, retryWait: { after: { 30000: 'charging' } } },
      on: { paid: 'shipped', cancel: 'abandoned' },
    },
    shipped: { type: 'final' },
    abandoned: { type: 'final' },
  },
});

const step = (seq: number, event: string, state: WorkflowHistoryEntry['state']): WorkflowHistoryEntry => ({ seq, at: seq, event, state });

describe('workflow path on a statechart', () => {
  it('turns state values into active paths, parents included, parallel regions too', () => {
    expect(activePaths('cart')).toEqual(['cart']);
    expect(activePaths({ paying: 'retryWait' })).toEqual(['paying', 'paying.retryWait']);
    expect(activePaths({ a: { x: 'one' }, b: 'two' })).toEqual(['a', 'a.x', 'a.x.one', 'b', 'b.two']);
  });

  it('marks the current states, every visited one, the transitions taken (an after-delay one included), and the events it takes now', async () => {
    const layout = await layoutStatechart(order);
    const history = [step(1, 'xstate.init', 'cart'), step(2, 'checkout', { paying: 'charging' }), step(3, 'declined', { paying: 'retryWait' }), step(4, 'xstate.after.30000.order.paying.retryWait', { paying: 'charging' })];
    const path = workflowPath({ state: { paying: 'charging' }, status: 'running', history }, layout, order);
    expect(path.current).toEqual(['paying', 'paying.charging']);
    expect([...path.visited].sort()).toEqual(['cart', 'paying', 'paying.charging', 'paying.retryWait']);
    expect(path.taken).toEqual([
      { from: 'cart', to: 'paying' },
      { from: 'paying.charging', to: 'paying.retryWait' },
      { from: 'paying.retryWait', to: 'paying.charging' },
    ]);
    // Its own state's events and its parent's.
    expect([...path.events].sort()).toEqual(['cancel', 'declined', 'paid']);
    // Never a transition it did not take: abandon was possible, not taken.
    expect(path.taken.some((t) => t.to === 'abandoned')).toBe(false);
  });

  it('takes no events once ended', async () => {
    const layout = await layoutStatechart(order);
    const path = workflowPath({ state: 'abandoned', status: 'done', history: [step(1, 'xstate.init', 'cart'), step(2, 'abandon', 'abandoned')] }, layout, order);
    expect(path).toMatchObject({ current: ['abandoned'], taken: [{ from: 'cart', to: 'abandoned' }], events: [] });
  });
});
