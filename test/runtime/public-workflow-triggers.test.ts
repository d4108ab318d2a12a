/**
 * Issue 17: a workflow trigger on a public subject. An unverified envelope (unsigned, from
 * Anonymous or a wallet) claims its From and correlation, so it may neither start a workflow
 * (it would take the ID `<From>/<Correlation>` before the genuine envelope) nor signal one (by a
 * workflow's correlation). The same envelope, verified, does both.
 */
import { describe, expect, it } from 'vitest';
import { triggerHandler, type TriggerTarget } from '../../src/workflows/workflow-triggers.ts';
import { FinalError } from '../../src/errors/index.ts';
import type { HandlerContext } from '../../src/runtime/handlers.ts';
import type { Envelope } from '../../src/envelope/index.ts';

function target() {
  const calls: string[] = [];
  const info = { id: 'w', name: 'order', status: 'running', state: 'open' } as never;
  const t: TriggerTarget = {
    start: async (_name, _input, { id }) => (calls.push(`start ${id}`), info),
    get: async () => info,
    signal: async (id) => (calls.push(`signal ${id}`), info),
    workflowOf: async () => 'w',
  };
  return { t, calls };
}

const context = (verified: boolean): HandlerContext => ({
  envelope: {} as Envelope,
  from: 'shop.example',
  to: 'orders.example',
  subject: 'Order@Orders',
  correlation: 'c1',
  body: {},
  attempt: 1,
  verified,
  signal: new AbortController().signal,
});

describe('workflow triggers and unverified envelopes', () => {
  it('refuses to start or signal a workflow for an unverified envelope, as a final error', async () => {
    const { t, calls } = target();
    for (const trigger of [{ domain: 'orders.example', subject: 'Order@Orders', start: true as const }, { domain: 'orders.example', subject: 'Order@Orders', signal: true as const }]) {
      const handler = triggerHandler(t, 'order', trigger);
      await expect(Promise.resolve(handler(context(false)))).rejects.toMatchObject({ reason: 'unverified', retryable: false });
      await expect(Promise.resolve(handler(context(false)))).rejects.toBeInstanceOf(FinalError);
    }
    expect(calls).toEqual([]);
  });

  it('starts and signals for a verified one', async () => {
    const { t, calls } = target();
    await triggerHandler(t, 'order', { domain: 'orders.example', subject: 'Order@Orders', start: true })(context(true));
    await triggerHandler(t, 'order', { domain: 'orders.example', subject: 'Order@Orders', signal: true })(context(true));
    expect(calls).toEqual(['start shop.example/c1', 'signal w']);
  });
});
