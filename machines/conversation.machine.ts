/**
 * A conversation: an outbound request that waits for its reply, matched by correlation.
 *
 * Pure and passivation-friendly: it has no timers of its own (a durable timer in JetStream
 * sends `conversation.timeout`), no invoked actors, and a JSON context, so the runtime can
 * persist its snapshot, stop it, and rehydrate it in any process when the reply, the
 * feedback or the timeout arrives.
 */
import { assign, setup } from 'xstate';
import { z } from 'zod';

/** What a conversation starts from. `timeoutAt` is epoch milliseconds. */
export const ConversationInput = z.object({
  from: z.string().min(1),
  to: z.string().min(1),
  subject: z.string().min(1),
  correlation: z.string().min(1),
  startedAt: z.int().min(0),
  timeoutAt: z.int().min(0),
  /** Who is to be told when it ends, opaque to the conversation (a workflow's ID, actor and token). */
  link: z.record(z.string(), z.string()).optional(),
  /** The runtime instance that started it (opaque): it reports the end as a `conversation` event. */
  origin: z.string().optional(),
});
export type ConversationInput = z.infer<typeof ConversationInput>;

/** The reply that completed a conversation. */
export interface ConversationReply {
  readonly subject: string;
  readonly body: unknown;
  readonly at: number;
}

export type ConversationContext = ConversationInput & {
  readonly reply?: ConversationReply;
  readonly discard?: { readonly reason: string; readonly at: number };
  readonly timedOutAt?: number;
};

/** The events that move a conversation: all come from outside, after rehydration. */
export type ConversationEvent =
  | { readonly type: 'conversation.reply'; readonly subject: string; readonly body: unknown; readonly at: number }
  | { readonly type: 'conversation.feedback'; readonly reason: string; readonly at: number }
  | { readonly type: 'conversation.timeout'; readonly at: number };

/** Every state of the conversation machine. */
export const conversationStateNames = ['awaitingReply', 'replied', 'discarded', 'timedOut'] as const;
export type ConversationStateName = (typeof conversationStateNames)[number];

/** How a conversation ended: the machine's output. */
export type ConversationOutcome =
  | { readonly state: 'replied'; readonly correlation: string; readonly reply: ConversationReply }
  | { readonly state: 'discarded'; readonly correlation: string; readonly reason: string }
  | { readonly state: 'timedOut'; readonly correlation: string; readonly timedOutAt: number };

/**
 * `awaitingReply → replied | discarded | timedOut`. The first of reply, feedback or timeout
 * wins; later ones are ignored (the states are final).
 *
 * @example
 * ```ts
 * const actor = createActor(conversationMachine, { input: { from, to, subject, correlation, startedAt, timeoutAt } }).start();
 * const persisted = actor.getPersistedSnapshot(); // store it, stop the actor
 * // later, anywhere:
 * const again = createActor(conversationMachine, { snapshot: persisted }).start();
 * again.send({ type: 'conversation.reply', subject: 'Reply@Quote@Shop', body: { price: 42 }, at: Date.now() });
 * ```
 */
export const conversationMachine = setup({
  types: {
    input: {} as ConversationInput,
    context: {} as ConversationContext,
    events: {} as ConversationEvent,
    output: {} as ConversationOutcome,
  },
}).createMachine({
  id: 'conversation',
  context: ({ input }) => ConversationInput.parse(input),
  initial: 'awaitingReply',
  states: {
    awaitingReply: {
      on: {
        'conversation.reply': {
          target: 'replied',
          actions: assign({ reply: ({ event }) => ({ subject: event.subject, body: event.body, at: event.at }) }),
        },
        'conversation.feedback': {
          target: 'discarded',
          actions: assign({ discard: ({ event }) => ({ reason: event.reason, at: event.at }) }),
        },
        'conversation.timeout': {
          target: 'timedOut',
          actions: assign({ timedOutAt: ({ event }) => event.at }),
        },
      },
    },
    replied: { type: 'final' },
    discarded: { type: 'final' },
    timedOut: { type: 'final' },
  },
  // Only the event that ended the conversation wrote its field, so the context tells which.
  output: ({ context }): ConversationOutcome => {
    if (context.reply) return { state: 'replied', correlation: context.correlation, reply: context.reply };
    if (context.discard) return { state: 'discarded', correlation: context.correlation, reason: context.discard.reason };
    return { state: 'timedOut', correlation: context.correlation, timedOutAt: context.timedOutAt ?? context.timeoutAt };
  },
});
