/** A small workflow machine with a nested state, shared by the workflow HTTP and inspection tests. */
import { assign, setup } from 'xstate';

export const ticket = setup({ types: { context: {} as { notes: string[] }, events: {} as { type: 'work' } | { type: 'review' } | { type: 'approve' } } }).createMachine({
  id: 'ticket',
  context: { notes: [] },
  initial: 'open',
  states: {
    open: { on: { work: { target: 'working', actions: assign({ notes: ({ context }) => [...context.notes, 'started'] }) } } },
    working: {
      initial: 'coding',
      states: {
        coding: { on: { review: 'reviewing' } },
        reviewing: { on: { approve: '#ticket.closed' } },
      },
    },
    closed: { type: 'final' },
  },
  output: ({ context }) => ({ notes: context.notes.length }),
});
