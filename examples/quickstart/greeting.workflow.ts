/**
 * The quick start's workflow: a durable XState machine that `mailroom start` hosts because
 * mailroom.yaml lists this module under `workflows:`.
 *
 *   npx mailroom workflows start greeting --input '{"name":"Ada"}' --id greet-ada
 *   npx mailroom workflows show greet-ada        # waitingForApproval, the shop's reply in the context
 *   npx mailroom workflows send greet-ada approve
 *
 * It asks shop.example (a signed Hello@Host from orders.example, as a durable conversation),
 * keeps the reply, then waits for an `approve` event: a waiting workflow is only its record in
 * NATS KV, so a restart in between loses nothing. Unapproved, it expires after an hour (a durable
 * timer).
 */
import { assign, setup } from 'xstate';
import { fromRequest } from '../../src/index.ts';

export interface GreetingContext {
  readonly name: string;
  readonly reply: unknown;
  readonly failure: string | null;
}

export const greeting = setup({
  types: {
    input: {} as { name?: string } | undefined,
    context: {} as GreetingContext,
    events: {} as { type: 'approve' },
  },
  actors: { hello: fromRequest() },
}).createMachine({
  id: 'greeting',
  context: ({ input }) => ({ name: input?.name ?? 'world', reply: null, failure: null }),
  initial: 'asking',
  states: {
    asking: {
      invoke: {
        src: 'hello',
        input: ({ context }) => ({ from: 'orders.example', to: 'shop.example', subject: 'Hello@Host', body: { text: context.name }, timeoutMs: 30_000 }),
        onDone: { target: 'waitingForApproval', actions: assign({ reply: ({ event }) => event.output.reply.body }) },
        onError: { target: 'failed', actions: assign({ failure: ({ event }) => String((event.error as { message?: unknown }).message ?? event.error) }) },
      },
    },
    waitingForApproval: {
      on: { approve: 'approved' },
      after: { 3_600_000: 'expired' },
    },
    approved: { type: 'final' },
    expired: { type: 'final' },
    failed: { type: 'final' },
  },
});

export default greeting;
