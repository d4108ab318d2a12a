/**
 * The envelope machine: one actor per delivered JetStream message, from `received` to a
 * final state whose output tells the runtime how to settle the message.
 *
 * Pure: every side effect is a named actor (`validate`, `handle`, `reply`,
 * `sendFeedback`, `deadLetter`) that the runtime supplies with `.provide()`. The machine
 * takes no events from outside; it moves on eventless transitions and on its actors'
 * done/error events.
 */
import { assign, fromPromise, setup } from 'xstate';
import type { ErrorActorEvent } from 'xstate';
import {
  EnvelopeActorInput,
  type EnvelopeActorContext,
  type EnvelopeActorOutput,
  type EnvelopeDeadLetter,
  type EnvelopeDeadLetterInput,
  type EnvelopeFaultState,
  type EnvelopeFeedbackInput,
  type EnvelopeFeedbackOutput,
  type EnvelopeHandleOutput,
  type EnvelopeReplyInput,
  type EnvelopeStepInput,
  type EnvelopeValidateOutput,
} from './envelope.types.ts';
import { backoffDelayMs, dropUndefined, readStepFailure } from './step-failure.ts';

export * from './envelope.types.ts';
export { envelopeReasons, type EnvelopeReason } from './envelope-reason.ts';

/** Every state of the envelope machine, in path order. Used by the status API, the dashboard and metrics. */
export const envelopeStateNames = [
  'received',
  'queued',
  'validating',
  'handling',
  'replying',
  'replied',
  'discarded',
  'feedbackSent',
  'noFeedback',
  'retrying',
  'deadLettering',
  'deadLettered',
] as const;
export type EnvelopeStateName = (typeof envelopeStateNames)[number];

/** The final states. The runtime settles the JetStream message when the actor reaches one. */
export const envelopeFinalStates = ['replied', 'feedbackSent', 'noFeedback', 'retrying', 'deadLettered'] as const satisfies readonly EnvelopeStateName[];
export type EnvelopeFinalState = (typeof envelopeFinalStates)[number];

const notProvided = (name: string) => async (): Promise<never> => {
  throw new Error(`envelope machine: actor '${name}' was not provided; supply it with .provide({ actors: { ${name} } })`);
};

/** A fault in `state`: the step's rejection, read from the error event. */
interface FaultParams {
  readonly state: EnvelopeFaultState;
  readonly error: unknown;
}

const faultIn =
  (state: EnvelopeFaultState) =>
  ({ event }: { event: ErrorActorEvent }): FaultParams => ({ state, error: event.error });

/**
 * The transitions out of a state whose actor rejected: dead-letter at once on a final
 * error, else retry while attempts are left, else dead-letter with `max-attempts`.
 */
const onFault = (state: EnvelopeFaultState) => {
  const fault = faultIn(state);
  const deadLetterAs = (reason: EnvelopeDeadLetter['reason']) => (args: { event: ErrorActorEvent }) => ({ ...fault(args), reason });
  return [
    {
      guard: { type: 'isFinalFailure', params: fault },
      target: 'deadLettering',
      actions: [{ type: 'recordFault', params: fault }, { type: 'prepareDeadLetter', params: deadLetterAs('final-error') }],
    },
    { guard: 'hasAttemptsLeft', target: 'retrying', actions: [{ type: 'recordFault', params: fault }, { type: 'scheduleRetry', params: fault }] },
    { target: 'deadLettering', actions: [{ type: 'recordFault', params: fault }, { type: 'prepareDeadLetter', params: deadLetterAs('max-attempts') }] },
  ] as const;
};

const stepInput = ({ context }: { context: EnvelopeActorContext }): EnvelopeStepInput => ({ messageId: context.messageId, attempt: context.attempt });

function toOutput(final: EnvelopeFinalState, context: EnvelopeActorContext): EnvelopeActorOutput {
  return dropUndefined({
    final,
    disposition:
      final === 'retrying' ? { kind: 'nak', delayMs: context.retryDelayMs ?? backoffDelayMs(context.retry, context.attempt) } : { kind: 'ack' },
    discard: context.discard,
    replyCorrelation: context.replyCorrelation,
    deadLetter: context.deadLetter,
    error: context.error,
  });
}

/** Reads a context field that the path into this state always sets. */
function present<T>(value: T | undefined, name: string): T {
  if (value === undefined) throw new Error(`envelope machine: context.${name} is missing`);
  return value;
}

const isFinalState = (value: unknown): value is EnvelopeFinalState => (envelopeFinalStates as readonly unknown[]).includes(value);

/**
 * The envelope machine (`id: 'envelope'`). Its actors are placeholders that reject; the
 * runtime supplies the real ones with `.provide()`.
 *
 * @example
 * ```ts
 * import { createActor, fromPromise, toPromise } from 'xstate';
 * import { envelopeMachine, type EnvelopeValidateOutput, type EnvelopeStepInput } from '../machines/envelope.machine.ts';
 *
 * const machine = envelopeMachine.provide({
 *   actors: {
 *     validate: fromPromise<EnvelopeValidateOutput, EnvelopeStepInput>(({ input }) => validator.check(input.messageId)),
 *     handle: fromPromise(({ input }) => handlers.run(input.messageId)),
 *     reply: fromPromise(({ input }) => outbox.publishReply(input.messageId, input.replyCorrelation)),
 *     sendFeedback: fromPromise(({ input }) => feedback.send(input.messageId, input.discard)),
 *     deadLetter: fromPromise(({ input }) => dlq.publish(input.messageId, input.attempt, input.deadLetter)),
 *   },
 * });
 * const actor = createActor(machine, { input });
 * const done = toPromise(actor); // subscribe before start: a malformed input fails the actor at start
 * actor.start();
 * const output = await done;
 * if (output.disposition.kind === 'nak') msg.nak(output.disposition.delayMs); else msg.ack();
 * ```
 */
export const envelopeMachine = setup({
  types: {
    input: {} as EnvelopeActorInput,
    context: {} as EnvelopeActorContext,
    output: {} as EnvelopeActorOutput,
  },
  actors: {
    validate: fromPromise<EnvelopeValidateOutput, EnvelopeStepInput>(notProvided('validate')),
    handle: fromPromise<EnvelopeHandleOutput, EnvelopeStepInput>(notProvided('handle')),
    reply: fromPromise<void, EnvelopeReplyInput>(notProvided('reply')),
    sendFeedback: fromPromise<EnvelopeFeedbackOutput, EnvelopeFeedbackInput>(notProvided('sendFeedback')),
    deadLetter: fromPromise<void, EnvelopeDeadLetterInput>(notProvided('deadLetter')),
  },
  guards: {
    validationPassed: (_, params: { result: EnvelopeValidateOutput }) => params.result.ok,
    isFinalFailure: (_, params: FaultParams) => readStepFailure(params.error).final,
    hasAttemptsLeft: ({ context }) => context.attempt < context.maxAttempts,
    feedbackSent: (_, params: { result: EnvelopeFeedbackOutput }) => params.result === 'sent',
  },
  actions: {
    recordValidationDiscard: assign((_, { result }: { result: EnvelopeValidateOutput }) =>
      result.ok ? {} : { discard: dropUndefined({ source: 'validation' as const, reason: result.reason, detail: result.detail, field: result.field }) },
    ),
    recordHandlerDiscard: assign((_, params: FaultParams) => {
      const failure = readStepFailure(params.error);
      const { reason = 'handler-failed', detail = failure.message, field } = failure;
      return { error: { message: failure.message, state: params.state }, discard: dropUndefined({ source: 'handler' as const, reason, detail, field }) };
    }),
    recordReply: assign((_, params: EnvelopeHandleOutput) => ({ replyCorrelation: params.replyCorrelation })),
    recordFault: assign((_, params: FaultParams) => ({ error: { message: readStepFailure(params.error).message, state: params.state } })),
    scheduleRetry: assign(({ context }, params: FaultParams) => ({
      retryDelayMs: readStepFailure(params.error).retryAfterMs ?? backoffDelayMs(context.retry, context.attempt),
    })),
    prepareDeadLetter: assign((_, params: FaultParams & { reason: EnvelopeDeadLetter['reason'] }) => ({
      deadLetter: { reason: params.reason, lastState: params.state, detail: readStepFailure(params.error).message },
    })),
  },
}).createMachine({
  id: 'envelope',
  context: ({ input }) => EnvelopeActorInput.parse(input),
  initial: 'received',
  states: {
    received: { always: 'queued' },
    queued: { always: 'validating' },
    validating: {
      invoke: {
        src: 'validate',
        input: stepInput,
        onDone: [
          { guard: { type: 'validationPassed', params: ({ event }) => ({ result: event.output }) }, target: 'handling' },
          { target: 'discarded', actions: { type: 'recordValidationDiscard', params: ({ event }) => ({ result: event.output }) } },
        ],
        onError: onFault('validating'),
      },
    },
    handling: {
      invoke: {
        src: 'handle',
        input: stepInput,
        onDone: { target: 'replying', actions: { type: 'recordReply', params: ({ event }) => event.output } },
        onError: [
          // A final handler error is an answer, not a fault: discard and tell the sender.
          { guard: { type: 'isFinalFailure', params: faultIn('handling') }, target: 'discarded', actions: { type: 'recordHandlerDiscard', params: faultIn('handling') } },
          ...onFault('handling'),
        ],
      },
    },
    replying: {
      invoke: {
        src: 'reply',
        input: ({ context }) => ({ ...stepInput({ context }), replyCorrelation: present(context.replyCorrelation, 'replyCorrelation') }),
        onDone: 'replied',
        onError: onFault('replying'),
      },
    },
    replied: { type: 'final', output: 'replied' },
    discarded: {
      invoke: {
        src: 'sendFeedback',
        input: ({ context }) => ({ ...stepInput({ context }), discard: present(context.discard, 'discard') }),
        onDone: [
          { guard: { type: 'feedbackSent', params: ({ event }) => ({ result: event.output }) }, target: 'feedbackSent' },
          { target: 'noFeedback' },
        ],
        onError: onFault('discarded'),
      },
    },
    feedbackSent: { type: 'final', output: 'feedbackSent' },
    noFeedback: { type: 'final', output: 'noFeedback' },
    retrying: { type: 'final', output: 'retrying' },
    deadLettering: {
      invoke: {
        src: 'deadLetter',
        input: ({ context }) => ({ ...stepInput({ context }), deadLetter: present(context.deadLetter, 'deadLetter') }),
        onDone: 'deadLettered',
        // The dead letter was not published: nak, so JetStream redelivers and a later attempt tries again.
        onError: {
          target: 'retrying',
          actions: [
            { type: 'recordFault', params: faultIn('deadLettering') },
            { type: 'scheduleRetry', params: faultIn('deadLettering') },
          ],
        },
      },
    },
    deadLettered: { type: 'final', output: 'deadLettered' },
  },
  // Each final state's `output` is its own name; it arrives here as the done-state event's output.
  output: ({ context, event }) => {
    if (!isFinalState(event.output)) throw new Error(`envelope machine: unexpected final output ${String(event.output)}`);
    return toOutput(event.output, context);
  },
});
