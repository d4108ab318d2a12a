/**
 * The envelope machine: one actor per delivered JetStream message, from `received` to a
 * final state whose output tells the runtime how to settle the message.
 *
 * Pure: every side effect is a named step (`validate`, `handle`, `reply`, `sendFeedback`,
 * `deadLetter`), an entry action of the state that needs it. The runtime supplies the steps
 * as async functions through {@link envelopeStepActions} and `.provide({ actions })`; a
 * step's result comes back to the actor as an event (`validate.done`, …, or `step.failed`).
 * What a step produced travels in the context: `handle` returns the reply (if any), the
 * context keeps it, `reply` gets it as input; with no reply, `handling` goes to `replied`.
 *
 * Why entry actions and events rather than invoked promise actors: an invoked actor is a
 * child `Actor` per step (created, registered, started, stopped, and copied into every
 * snapshot's `children`). Three of them per envelope were ~55 µs of the ~90 µs XState
 * spent per envelope (measured, see bench/README.md); an action is a function call.
 */
import { assign, setup } from 'xstate';
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
import { backoffDelayMs, dropUndefined, faultDecision, readStepFailure } from './step-failure.ts';

export * from './envelope.types.ts';
export { envelopeReasons, type EnvelopeReason } from './envelope-reason.ts';

/**
 * Every state of the envelope machine, in path order. Used by the status API, the dashboard and metrics.
 * `replied` means handled: through `replying` when the handler produced a reply, straight from
 * `handling` when it produced none.
 */
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

/** The steps the runtime supplies, one async function each; {@link envelopeStepActions} turns them into the machine's actions. */
export interface EnvelopeSteps {
  validate(input: EnvelopeStepInput): Promise<EnvelopeValidateOutput>;
  handle(input: EnvelopeStepInput): Promise<EnvelopeHandleOutput>;
  reply(input: EnvelopeReplyInput): Promise<void>;
  sendFeedback(input: EnvelopeFeedbackInput): Promise<EnvelopeFeedbackOutput>;
  deadLetter(input: EnvelopeDeadLetterInput): Promise<void>;
}
export type EnvelopeStepName = keyof EnvelopeSteps;

/** The events a step's result sends back to its envelope actor. The machine takes no others. */
export type EnvelopeEvent =
  | { readonly type: 'validate.done'; readonly output: EnvelopeValidateOutput }
  | { readonly type: 'handle.done'; readonly output: EnvelopeHandleOutput }
  | { readonly type: 'reply.done' }
  | { readonly type: 'sendFeedback.done'; readonly output: EnvelopeFeedbackOutput }
  | { readonly type: 'deadLetter.done' }
  | { readonly type: 'step.failed'; readonly step: EnvelopeStepName; readonly error: unknown };

/** What an action's implementation needs of the actor: a way to send it the step's result. */
interface StepSelf {
  send(event: EnvelopeEvent): void;
}

const doneEvent = {
  validate: (output: EnvelopeValidateOutput): EnvelopeEvent => ({ type: 'validate.done', output }),
  handle: (output: EnvelopeHandleOutput): EnvelopeEvent => ({ type: 'handle.done', output }),
  reply: (): EnvelopeEvent => ({ type: 'reply.done' }),
  sendFeedback: (output: EnvelopeFeedbackOutput): EnvelopeEvent => ({ type: 'sendFeedback.done', output }),
  deadLetter: (): EnvelopeEvent => ({ type: 'deadLetter.done' }),
} satisfies { [K in EnvelopeStepName]: (output: Awaited<ReturnType<EnvelopeSteps[K]>>) => EnvelopeEvent };

/** Runs one step and sends its outcome to `self`: `<step>.done` with the output, or `step.failed` with the rejection. */
function runStep<K extends EnvelopeStepName>(name: K, step: EnvelopeSteps[K], self: StepSelf, input: Parameters<EnvelopeSteps[K]>[0]): void {
  const done = doneEvent[name] as (output: unknown) => EnvelopeEvent;
  let result: Promise<unknown>;
  try {
    result = Promise.resolve((step as (input: unknown) => Promise<unknown>)(input));
  } catch (error) {
    // A step that throws before its first await fails the same way as one that rejects.
    result = Promise.reject(error);
  }
  result.then(
    (output) => self.send(done(output)),
    (error: unknown) => self.send({ type: 'step.failed', step: name, error }),
  );
}

/**
 * The machine's step actions, from the runtime's step functions: pass the result to
 * `envelopeMachine.provide({ actions: envelopeStepActions(steps) })`.
 */
export function envelopeStepActions(steps: EnvelopeSteps) {
  const action =
    <K extends EnvelopeStepName>(name: K) =>
    ({ self }: { self: StepSelf }, input: Parameters<EnvelopeSteps[K]>[0]): void =>
      runStep(name, steps[name], self, input);
  return {
    validate: action('validate'),
    handle: action('handle'),
    reply: action('reply'),
    sendFeedback: action('sendFeedback'),
    deadLetter: action('deadLetter'),
  };
}

const notProvided = (name: EnvelopeStepName) => async (): Promise<never> => {
  throw new Error(`envelope machine: step '${name}' was not provided; supply it with .provide({ actions: envelopeStepActions(steps) })`);
};
const placeholderSteps: EnvelopeSteps = {
  validate: notProvided('validate'),
  handle: notProvided('handle'),
  reply: notProvided('reply'),
  sendFeedback: notProvided('sendFeedback'),
  deadLetter: notProvided('deadLetter'),
};
const placeholders = envelopeStepActions(placeholderSteps);

type StepFailedEvent = Extract<EnvelopeEvent, { type: 'step.failed' }>;

/** A fault in `state`: the step's rejection, read from the `step.failed` event. */
export interface FaultParams {
  readonly state: EnvelopeFaultState;
  readonly error: unknown;
}

const faultIn =
  (state: EnvelopeFaultState) =>
  ({ event }: { event: StepFailedEvent }): FaultParams => ({ state, error: event.error });

/**
 * The transitions out of a state whose step failed, as the shared retry policy decides
 * ({@link faultDecision}): retry, or dead-letter (`final-error` at once on a final error,
 * `max-attempts` when the attempts are used up).
 */
const onFault = (state: EnvelopeFaultState) => {
  const fault = faultIn(state);
  const deadLetterAs = ({ context, event }: { context: EnvelopeActorContext; event: StepFailedEvent }) => {
    const decision = faultDecision(context, readStepFailure(event.error));
    if (decision.kind !== 'dead-letter') throw new Error('envelope machine: the retry policy retries this fault; it cannot be dead-lettered');
    return { ...fault({ event }), reason: decision.reason };
  };
  return [
    { guard: { type: 'policyRetries', params: fault }, target: 'retrying', actions: [{ type: 'recordFault', params: fault }, { type: 'scheduleRetry', params: fault }] },
    { target: 'deadLettering', actions: [{ type: 'recordFault', params: fault }, { type: 'prepareDeadLetter', params: deadLetterAs }] },
  ] as const;
};

const stepInput = ({ context }: { context: EnvelopeActorContext }): EnvelopeStepInput => ({ messageId: context.messageId, attempt: context.attempt });

/** The output of a final state: absent fields are left out (as `dropUndefined` would), in one object, keys in this order. */
function toOutput(final: EnvelopeFinalState, context: EnvelopeActorContext): EnvelopeActorOutput {
  const output: { -readonly [K in keyof EnvelopeActorOutput]: EnvelopeActorOutput[K] } = {
    final,
    disposition: final === 'retrying' ? { kind: 'nak', delayMs: context.retryDelayMs ?? backoffDelayMs(context.retry, context.attempt) } : { kind: 'ack' },
  };
  if (context.discard !== undefined) output.discard = context.discard;
  if (context.reply !== undefined) {
    output.replyCorrelation = context.reply.correlation;
    output.replySubject = context.reply.subject;
  }
  if (context.deadLetter !== undefined) output.deadLetter = context.deadLetter;
  if (context.error !== undefined) output.error = context.error;
  return output;
}

/** Reads a context field that the path into this state always sets. */
function present<T>(value: T | undefined, name: string): T {
  if (value === undefined) throw new Error(`envelope machine: context.${name} is missing`);
  return value;
}

const isFinalState = (value: unknown): value is EnvelopeFinalState => (envelopeFinalStates as readonly unknown[]).includes(value);

/**
 * The envelope machine (`id: 'envelope'`). Its step actions are placeholders that fail;
 * the runtime supplies the real steps with `.provide({ actions: envelopeStepActions(steps) })`.
 *
 * @example
 * ```ts
 * import { createActor, toPromise } from 'xstate';
 * import { envelopeMachine, envelopeStepActions } from '../machines/envelope.machine.ts';
 *
 * const machine = envelopeMachine.provide({
 *   actions: envelopeStepActions({
 *     validate: (input) => validator.check(input.messageId),
 *     handle: (input) => handlers.run(input.messageId), // → { reply?: { subject, correlation, body } }
 *     reply: (input) => outbox.publishReply(input.messageId, input.reply),
 *     sendFeedback: (input) => feedback.send(input.messageId, input.discard),
 *     deadLetter: (input) => dlq.publish(input.messageId, input.attempt, input.deadLetter),
 *   }),
 * });
 * const actor = createActor(machine, { input });
 * const done = toPromise(actor); // subscribe before start: a malformed input fails the actor at start
 * actor.start();
 * const output = await done;
 * if (output.disposition.kind === 'nak') msg.nak(output.disposition.delayMs); else msg.ack();
 * ```
 */
const buildEnvelopeMachine = (initial: 'received' | 'validating') => setup({
  types: {
    input: {} as EnvelopeActorInput,
    context: {} as EnvelopeActorContext,
    events: {} as EnvelopeEvent,
    output: {} as EnvelopeActorOutput,
  },
  actions: {
    validate: placeholders.validate,
    handle: placeholders.handle,
    reply: placeholders.reply,
    sendFeedback: placeholders.sendFeedback,
    deadLetter: placeholders.deadLetter,
    recordValidationDiscard: assign(({ event }) => {
      const result = event.type === 'validate.done' ? event.output : undefined;
      return result && !result.ok ? { discard: dropUndefined({ source: 'validation' as const, reason: result.reason, detail: result.detail, field: result.field }) } : {};
    }),
    recordHandlerDiscard: assign((_, params: FaultParams) => {
      const failure = readStepFailure(params.error);
      const { reason = 'handler-failed', detail = failure.message, field } = failure;
      return { error: { message: failure.message, state: params.state }, discard: dropUndefined({ source: 'handler' as const, reason, detail, field }) };
    }),
    recordReply: assign(({ event }) => (event.type === 'handle.done' && event.output.reply ? { reply: event.output.reply } : {})),
    recordFault: assign((_, params: FaultParams) => {
      const { message, reason } = readStepFailure(params.error);
      return { error: dropUndefined({ message, state: params.state, reason }) };
    }),
    // The retry policy's delay; also after the dead letter itself failed, which naks whatever the attempts.
    scheduleRetry: assign(({ context }, params: FaultParams) => ({
      retryDelayMs: readStepFailure(params.error).retryAfterMs ?? backoffDelayMs(context.retry, context.attempt),
    })),
    prepareDeadLetter: assign((_, params: FaultParams & { reason: EnvelopeDeadLetter['reason'] }) => {
      const failure = readStepFailure(params.error);
      return { deadLetter: dropUndefined({ reason: params.reason, lastState: params.state, lastReason: failure.reason, detail: failure.message }) };
    }),
  },
  guards: {
    // The guards and record actions on a step's `.done` read the event itself: no params object per transition.
    validationPassed: ({ event }) => event.type === 'validate.done' && event.output.ok,
    hasReply: ({ event }) => event.type === 'handle.done' && event.output.reply !== undefined,
    isFinalFailure: (_, params: FaultParams) => readStepFailure(params.error).final,
    policyRetries: ({ context }, params: FaultParams) => faultDecision(context, readStepFailure(params.error)).kind === 'retry',
    feedbackSent: ({ event }) => event.type === 'sendFeedback.done' && event.output === 'sent',
  },
}).createMachine({
  id: 'envelope',
  // The public machine parses its input; the runtime's builds it from parsed config and a stored message.
  context: ({ input }) => (initial === 'received' ? EnvelopeActorInput.parse(input) : input),
  initial,
  states: {
    received: { always: 'queued' },
    queued: { always: 'validating' },
    validating: {
      entry: { type: 'validate', params: stepInput },
      on: {
        'validate.done': [
          { guard: { type: 'validationPassed' }, target: 'handling' },
          { target: 'discarded', actions: { type: 'recordValidationDiscard' } },
        ],
        'step.failed': onFault('validating'),
      },
    },
    handling: {
      entry: { type: 'handle', params: stepInput },
      on: {
        'handle.done': [
          { guard: { type: 'hasReply' }, target: 'replying', actions: { type: 'recordReply' } },
          // No reply (a one-way message, an answer to this runtime's own request): done, nothing to send.
          { target: 'replied' },
        ],
        'step.failed': [
          // A final handler error is an answer, not a fault: discard and tell the sender.
          { guard: { type: 'isFinalFailure', params: faultIn('handling') }, target: 'discarded', actions: { type: 'recordHandlerDiscard', params: faultIn('handling') } },
          ...onFault('handling'),
        ],
      },
    },
    replying: {
      entry: { type: 'reply', params: ({ context }) => ({ ...stepInput({ context }), reply: present(context.reply, 'reply') }) },
      on: { 'reply.done': 'replied', 'step.failed': onFault('replying') },
    },
    replied: { type: 'final', output: 'replied' },
    discarded: {
      entry: { type: 'sendFeedback', params: ({ context }) => ({ ...stepInput({ context }), discard: present(context.discard, 'discard') }) },
      on: {
        'sendFeedback.done': [
          { guard: { type: 'feedbackSent' }, target: 'feedbackSent' },
          { target: 'noFeedback' },
        ],
        'step.failed': onFault('discarded'),
      },
    },
    feedbackSent: { type: 'final', output: 'feedbackSent' },
    noFeedback: { type: 'final', output: 'noFeedback' },
    retrying: { type: 'final', output: 'retrying' },
    deadLettering: {
      entry: { type: 'deadLetter', params: ({ context }) => ({ ...stepInput({ context }), deadLetter: present(context.deadLetter, 'deadLetter') }) },
      on: {
        'deadLetter.done': 'deadLettered',
        // The dead letter was not published: nak, so JetStream redelivers and a later attempt tries again.
        'step.failed': {
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

export const envelopeMachine = buildEnvelopeMachine('received');

/**
 * The same machine, started in `validating`: what the runtime runs. `received` and `queued`
 * are recorded by the inbox and JetStream before any actor exists (the status history's
 * first steps); walking them again as eventless transitions cost two microsteps per envelope
 * and changed nothing (the actor's observer never records them). Same states, same
 * transitions from `validating` on, same `id`. Its input is trusted, not parsed again: the runtime
 * builds it from the parsed config and the stored message (`actorInputOf`).
 * @internal
 */
export const envelopeMachineFromValidating = buildEnvelopeMachine('validating');
