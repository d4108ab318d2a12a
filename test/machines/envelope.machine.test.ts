import { describe, expect, it } from 'vitest';
import { createActor, toPromise, type InspectionEvent } from 'xstate';
import {
  EnvelopeActorInput,
  envelopeFinalStates,
  envelopeMachine,
  envelopeReasons,
  envelopeStepActions,
  envelopeStateNames,
  type EnvelopeActorOutput,
  type EnvelopeDeadLetterInput,
  type EnvelopeFeedbackInput,
  type EnvelopeFeedbackOutput,
  type EnvelopeHandleOutput,
  type EnvelopeReplyInput,
  type EnvelopeStepFailure,
  type EnvelopeStepInput,
  type EnvelopeValidateOutput,
  envelopeMachineFromValidating,
} from '../../machines/envelope.machine.ts';

/** A step error as the runtime would throw it. */
class StepError extends Error implements EnvelopeStepFailure {
  readonly retryable?: boolean;
  readonly retryAfterMs?: number;
  readonly reason?: string;
  readonly detail?: string;
  readonly field?: string;
  constructor(message: string, fields: Omit<EnvelopeStepFailure, 'message'> = {}) {
    super(message);
    Object.assign(this, fields);
  }
}

const input = (overrides: Partial<EnvelopeActorInput> = {}): EnvelopeActorInput => ({
  messageId: '42',
  from: 'orders.example',
  to: 'shop.example',
  subject: 'Order@Shop',
  correlation: '6f1c2d7e-0000-4000-8000-000000000001',
  attempt: 1,
  maxAttempts: 5,
  retry: { initialDelayMs: 1_000, maxDelayMs: 60_000, multiplier: 3 },
  receivedAt: 1_700_000_000_000,
  ...overrides,
});

type Step<I, O> = (input: I) => Promise<O>;
interface Steps {
  validate: Step<EnvelopeStepInput, EnvelopeValidateOutput>;
  handle: Step<EnvelopeStepInput, EnvelopeHandleOutput>;
  reply: Step<EnvelopeReplyInput, void>;
  sendFeedback: Step<EnvelopeFeedbackInput, EnvelopeFeedbackOutput>;
  deadLetter: Step<EnvelopeDeadLetterInput, void>;
}
type Call = { [K in keyof Steps]: { actor: K; input: Parameters<Steps[K]>[0] } }[keyof Steps];

/** The reply the happy handler produces (its Correlation stands in for the request's). */
const orderReply = { subject: 'Reply@Order@Shop', correlation: 'reply-1', body: { accepted: true } };

const happySteps: Steps = {
  validate: async () => ({ ok: true }),
  handle: async () => ({ reply: orderReply }),
  reply: async () => undefined,
  sendFeedback: async () => 'sent',
  deadLetter: async () => undefined,
};

/** Runs one envelope actor with fake steps; records the states it passed through and every actor call. */
async function run(overrides: Partial<Steps> = {}, actorInput: EnvelopeActorInput = input()) {
  const steps = { ...happySteps, ...overrides };
  const calls: Call[] = [];
  const fake =
    <K extends keyof Steps>(name: K) =>
    (stepInput: Parameters<Steps[K]>[0]): Promise<Awaited<ReturnType<Steps[K]>>> => {
      calls.push({ actor: name, input: stepInput } as Call);
      return (steps[name] as (i: Parameters<Steps[K]>[0]) => Promise<Awaited<ReturnType<Steps[K]>>>)(stepInput);
    };
  const machine = envelopeMachine.provide({
    actions: envelopeStepActions({ validate: fake('validate'), handle: fake('handle'), reply: fake('reply'), sendFeedback: fake('sendFeedback'), deadLetter: fake('deadLetter') }),
  });
  const path: string[] = [];
  const record = (event: InspectionEvent) => {
    if (event.type !== '@xstate.microstep') return;
    for (const transition of event._transitions) {
      if (path.length === 0) path.push(transition.source.key);
      for (const target of transition.target ?? []) path.push(target.key);
    }
  };
  const actor = createActor(machine, { input: actorInput, inspect: record });
  const done = toPromise(actor);
  actor.start();
  const output = await done;
  const snapshot = actor.getSnapshot();
  return { output, path, calls, snapshot, called: (name: keyof Steps) => calls.filter((c) => c.actor === name).map((c) => c.input) };
}

const transient = () => Promise.reject(new StepError('DNS timeout resolving sel._domainkey.orders.example'));

describe('envelope machine: happy path', () => {
  it('walks received → queued → validating → handling → replying → replied and acks', async () => {
    const { output, path, calls, snapshot } = await run();
    expect(path).toEqual(['received', 'queued', 'validating', 'handling', 'replying', 'replied']);
    expect(snapshot.value).toBe('replied');
    expect(output).toStrictEqual({ final: 'replied', disposition: { kind: 'ack' }, replyCorrelation: 'reply-1', replySubject: 'Reply@Order@Shop' });
    expect(calls).toStrictEqual([
      { actor: 'validate', input: { messageId: '42', attempt: 1 } },
      { actor: 'handle', input: { messageId: '42', attempt: 1 } },
      { actor: 'reply', input: { messageId: '42', attempt: 1, reply: orderReply } },
    ]);
  });

  it('keeps the reply in the context: reply gets what handle returned, nothing travels outside', async () => {
    const { snapshot, called } = await run();
    expect(snapshot.context.reply).toStrictEqual(orderReply);
    expect(called('reply')).toStrictEqual([{ messageId: '42', attempt: 1, reply: orderReply }]);
  });

  it('passes the attempt to the steps', async () => {
    const { called } = await run({}, input({ attempt: 3 }));
    expect(called('validate')).toStrictEqual([{ messageId: '42', attempt: 3 }]);
  });
});

describe('envelope machine: no reply', () => {
  it('a handler with no reply walks handling → replied without entering replying, and acks', async () => {
    const { output, path, calls, snapshot } = await run({ handle: async () => ({}) });
    expect(path).toEqual(['received', 'queued', 'validating', 'handling', 'replied']);
    expect(snapshot.value).toBe('replied');
    expect(output).toStrictEqual({ final: 'replied', disposition: { kind: 'ack' } });
    expect(calls.map((c) => c.actor)).toEqual(['validate', 'handle']);
    expect(snapshot.context).not.toHaveProperty('reply');
  });

  it('a reply step that would fail is never reached without a reply', async () => {
    const { output, called } = await run({ handle: async () => ({}), reply: () => Promise.reject(new Error('outbox down')) }, input({ attempt: 5 }));
    expect(output).toStrictEqual({ final: 'replied', disposition: { kind: 'ack' } });
    expect(called('reply')).toEqual([]);
  });

  it('draws both ways out of handling: replying when there is a reply, replied when there is none', () => {
    const targets = envelopeMachine.root.states.handling!.transitions.get('handle.done')!.map((t) => (t.target ?? []).map((n) => n.key));
    expect(targets).toEqual([['replying'], ['replied']]);
  });
});

describe('envelope machine: validation discards', () => {
  it.each(envelopeReasons)('%s → discarded → feedbackSent, reason kept, no handler or reply', async (reason) => {
    const { output, path, calls, called } = await run({ validate: async () => ({ ok: false, reason, detail: `because ${reason}` }) });
    const discard = { source: 'validation', reason, detail: `because ${reason}` };
    expect(path).toEqual(['received', 'queued', 'validating', 'discarded', 'feedbackSent']);
    expect(output).toStrictEqual({ final: 'feedbackSent', disposition: { kind: 'ack' }, discard });
    expect(called('sendFeedback')).toStrictEqual([{ messageId: '42', attempt: 1, discard }]);
    expect(calls.map((c) => c.actor)).toEqual(['validate', 'sendFeedback']);
  });

  it('keeps the offending field and ends in noFeedback when no feedback is sent', async () => {
    const { output, path, called } = await run({
      validate: async () => ({ ok: false, reason: 'malformed', detail: 'not an ISO timestamp', field: 'Header.Timestamp' }),
      sendFeedback: async () => 'none',
    });
    expect(path.slice(-2)).toEqual(['discarded', 'noFeedback']);
    expect(output).toStrictEqual({
      final: 'noFeedback',
      disposition: { kind: 'ack' },
      discard: { source: 'validation', reason: 'malformed', detail: 'not an ISO timestamp', field: 'Header.Timestamp' },
    });
    expect(called('handle')).toEqual([]);
    expect(called('reply')).toEqual([]);
  });
});

describe('envelope machine: retries', () => {
  it('a transient validate fault on attempt 1 of 5 → retrying, nak after initialDelayMs', async () => {
    const { output, path, calls } = await run({ validate: transient });
    expect(path).toEqual(['received', 'queued', 'validating', 'retrying']);
    expect(output).toStrictEqual({
      final: 'retrying',
      disposition: { kind: 'nak', delayMs: 1_000 },
      error: { message: 'DNS timeout resolving sel._domainkey.orders.example', state: 'validating' },
    });
    expect(calls.map((c) => c.actor)).toEqual(['validate']);
  });

  it('backs off exponentially: attempt 3 → initialDelayMs × multiplier²', async () => {
    const { output } = await run({ validate: transient }, input({ attempt: 3 }));
    expect(output.disposition).toStrictEqual({ kind: 'nak', delayMs: 1_000 * 3 ** 2 });
  });

  it('caps the delay at maxDelayMs', async () => {
    const { output } = await run({ validate: transient }, input({ attempt: 9, maxAttempts: 10 }));
    expect(1_000 * 3 ** 8).toBeGreaterThan(60_000);
    expect(output.disposition).toStrictEqual({ kind: 'nak', delayMs: 60_000 });
  });

  it("honours the error's retryAfterMs instead of the backoff", async () => {
    const { output } = await run({ handle: () => Promise.reject(new StepError('rate limited', { retryable: true, retryAfterMs: 2_500 })) }, input({ attempt: 4 }));
    expect(output).toMatchObject({ final: 'retrying', disposition: { kind: 'nak', delayMs: 2_500 }, error: { message: 'rate limited', state: 'handling' } });
  });

  it('uses retryAfterMs as given, even above maxDelayMs (the failing step asked for it)', async () => {
    const { output } = await run({ validate: () => Promise.reject(new StepError('DNS SERVFAIL', { retryAfterMs: 90_000 })) });
    expect(output.disposition).toStrictEqual({ kind: 'nak', delayMs: 90_000 });
  });

  it('treats a handler error without retryable: false as transient', async () => {
    const { output, called } = await run({ handle: () => Promise.reject(new TypeError('x is undefined')) }, input({ attempt: 2 }));
    expect(output).toStrictEqual({ final: 'retrying', disposition: { kind: 'nak', delayMs: 3_000 }, error: { message: 'x is undefined', state: 'handling' } });
    expect(called('reply')).toEqual([]);
    expect(called('sendFeedback')).toEqual([]);
  });

  it('a reply failure takes the retry path and keeps the reply correlation and subject', async () => {
    const { output, path, called } = await run({ reply: () => Promise.reject(new Error('outbox publish timed out')) }, input({ attempt: 2 }));
    expect(path.slice(-2)).toEqual(['replying', 'retrying']);
    expect(output).toStrictEqual({
      final: 'retrying',
      disposition: { kind: 'nak', delayMs: 3_000 },
      replyCorrelation: 'reply-1',
      replySubject: 'Reply@Order@Shop',
      error: { message: 'outbox publish timed out', state: 'replying' },
    });
    expect(called('reply')).toHaveLength(1);
  });

  it('a feedback failure takes the retry path', async () => {
    const { output, path } = await run({
      validate: async () => ({ ok: false, reason: 'bad-signature', detail: 'signature does not verify' }),
      sendFeedback: () => Promise.reject(new Error('JetStream unavailable')),
    });
    expect(path.slice(-2)).toEqual(['discarded', 'retrying']);
    expect(output).toMatchObject({ final: 'retrying', disposition: { kind: 'nak', delayMs: 1_000 }, error: { message: 'JetStream unavailable', state: 'discarded' } });
    expect(output.discard).toStrictEqual({ source: 'validation', reason: 'bad-signature', detail: 'signature does not verify' });
  });

  it('describes a rejection that is not an Error', async () => {
    const { output } = await run({ validate: () => Promise.reject('socket hang up') });
    expect(output.error).toStrictEqual({ message: 'socket hang up', state: 'validating' });
  });
});

describe('envelope machine: dead letters', () => {
  it('the last attempt failing → deadLettering → deadLettered with max-attempts and the last state', async () => {
    const { output, path, called } = await run({ validate: transient }, input({ attempt: 5 }));
    const deadLetter = { reason: 'max-attempts', lastState: 'validating', detail: 'DNS timeout resolving sel._domainkey.orders.example' };
    expect(path).toEqual(['received', 'queued', 'validating', 'deadLettering', 'deadLettered']);
    expect(output).toStrictEqual({
      final: 'deadLettered',
      disposition: { kind: 'ack' },
      deadLetter,
      error: { message: 'DNS timeout resolving sel._domainkey.orders.example', state: 'validating' },
    });
    expect(called('deadLetter')).toStrictEqual([{ messageId: '42', attempt: 5, deadLetter }]);
  });

  it('a delivery past maxAttempts that still fails is dead-lettered too', async () => {
    const { output } = await run({ reply: () => Promise.reject(new Error('outbox down')) }, input({ attempt: 7 }));
    expect(output.final).toBe('deadLettered');
    expect(output.deadLetter).toStrictEqual({ reason: 'max-attempts', lastState: 'replying', detail: 'outbox down' });
  });

  it('a step failing with retryable: false is dead-lettered at once with final-error', async () => {
    const { output, called } = await run({ reply: () => Promise.reject(new StepError('no signing key for shop.example', { retryable: false })) });
    expect(output).toMatchObject({ final: 'deadLettered', disposition: { kind: 'ack' }, deadLetter: { reason: 'final-error', lastState: 'replying', detail: 'no signing key for shop.example' } });
    expect(called('deadLetter')).toHaveLength(1);
  });

  it("keeps a transient fault's named reason: in the error while retrying, as lastReason in the dead letter", async () => {
    const timedOut = () => Promise.reject(new StepError('the handler for Order@Shop did not finish within 200 ms', { retryable: true, reason: 'handler-timeout' }));
    const retrying = await run({ handle: timedOut });
    expect(retrying.output).toMatchObject({ final: 'retrying', error: { state: 'handling', reason: 'handler-timeout' } });
    const last = await run({ handle: timedOut }, input({ attempt: 5 }));
    expect(last.output.deadLetter).toStrictEqual({
      reason: 'max-attempts',
      lastState: 'handling',
      lastReason: 'handler-timeout',
      detail: 'the handler for Order@Shop did not finish within 200 ms',
    });
  });

  it('a deadLetter failure → retrying (the message is redelivered and dead-lettered later)', async () => {
    const { output, path } = await run({ validate: transient, deadLetter: () => Promise.reject(new Error('DLQ stream unavailable')) }, input({ attempt: 5 }));
    expect(path.slice(-3)).toEqual(['validating', 'deadLettering', 'retrying']);
    expect(output).toStrictEqual({
      final: 'retrying',
      disposition: { kind: 'nak', delayMs: 60_000 },
      deadLetter: { reason: 'max-attempts', lastState: 'validating', detail: 'DNS timeout resolving sel._domainkey.orders.example' },
      error: { message: 'DLQ stream unavailable', state: 'deadLettering' },
    });
  });
});

describe('envelope machine: final handler errors', () => {
  it('discards with source handler and sends feedback; never replies', async () => {
    const refusal = new StepError('order rejected', { retryable: false, reason: 'out-of-stock', detail: 'SKU 123 is out of stock', field: 'Body.Items[0]' });
    const { output, path, called } = await run({ handle: () => Promise.reject(refusal) });
    const discard = { source: 'handler', reason: 'out-of-stock', detail: 'SKU 123 is out of stock', field: 'Body.Items[0]' };
    expect(path).toEqual(['received', 'queued', 'validating', 'handling', 'discarded', 'feedbackSent']);
    expect(output).toStrictEqual({ final: 'feedbackSent', disposition: { kind: 'ack' }, discard, error: { message: 'order rejected', state: 'handling' } });
    expect(called('sendFeedback')).toStrictEqual([{ messageId: '42', attempt: 1, discard }]);
    expect(called('reply')).toEqual([]);
  });

  it("defaults the reason to 'handler-failed' and the detail to the message", async () => {
    const { output } = await run({ handle: () => Promise.reject(new StepError('cannot handle', { retryable: false })) }, input({ attempt: 5 }));
    expect(output.final).toBe('feedbackSent');
    expect(output.discard).toStrictEqual({ source: 'handler', reason: 'handler-failed', detail: 'cannot handle' });
  });
});

describe('envelope machine: context and input', () => {
  const scenarios: [string, Partial<Steps>, EnvelopeActorInput][] = [
    ['replied', {}, input()],
    ['replied without a reply', { handle: async () => ({}) }, input()],
    ['discarded', { validate: async () => ({ ok: false, reason: 'malformed', detail: 'd', field: '$' }) }, input()],
    ['retrying', { handle: () => Promise.reject(new StepError('busy', { retryable: true, retryAfterMs: 10 })) }, input()],
    ['dead-lettered', { reply: transient }, input({ attempt: 5 })],
    ['handler refused', { handle: () => Promise.reject(new StepError('no', { retryable: false })) }, input()],
  ];
  it.each(scenarios)('the final context (%s) survives a JSON round trip unchanged', async (_name, steps, actorInput) => {
    const { snapshot, output } = await run(steps, actorInput);
    expect(JSON.parse(JSON.stringify(snapshot.context))).toStrictEqual(snapshot.context);
    expect(JSON.parse(JSON.stringify(output))).toStrictEqual(output);
    expect(snapshot.context).toMatchObject(actorInput);
  });

  it('accepts a well-formed input', () => {
    expect(EnvelopeActorInput.safeParse(input()).success).toBe(true);
  });

  it.each<[string, unknown]>([
    ['a missing field', { ...input(), correlation: undefined }],
    ['an empty messageId', input({ messageId: '' })],
    ['a numeric messageId', { ...input(), messageId: 42 }],
    ['attempt 0', input({ attempt: 0 })],
    ['a fractional attempt', input({ attempt: 1.5 })],
    ['maxAttempts 0', input({ maxAttempts: 0 })],
    ['a negative delay', input({ retry: { initialDelayMs: -1, maxDelayMs: 10, multiplier: 2 } })],
    ['maxDelayMs below initialDelayMs', input({ retry: { initialDelayMs: 100, maxDelayMs: 10, multiplier: 2 } })],
    ['a multiplier below 1', input({ retry: { initialDelayMs: 1, maxDelayMs: 10, multiplier: 0.5 } })],
    ['an infinite multiplier', input({ retry: { initialDelayMs: 1, maxDelayMs: 10, multiplier: Number.POSITIVE_INFINITY } })],
    ['a string receivedAt', { ...input(), receivedAt: '2024-01-01' }],
  ])('rejects %s', (_name, value) => {
    expect(EnvelopeActorInput.safeParse(value).success).toBe(false);
  });

  it('fails the actor at start when the input is malformed', async () => {
    const actor = createActor(envelopeMachine, { input: { ...input(), attempt: 0 } });
    const done = toPromise(actor);
    actor.start();
    await expect(done).rejects.toThrow(/attempt/);
    expect(actor.getSnapshot().status).toBe('error');
  });
});

describe('envelope machine: as the runtime starts it', () => {
  it('starts in validating (received and queued are the inbox\'s), and walks on the same way', async () => {
    const calls: string[] = [];
    const machine = envelopeMachineFromValidating.provide({
      actions: envelopeStepActions({
        validate: async () => (calls.push('validate'), { ok: true }),
        handle: async () => (calls.push('handle'), { reply: orderReply }),
        reply: async () => void calls.push('reply'),
        sendFeedback: async () => 'sent',
        deadLetter: async () => undefined,
      }),
    });
    const actor = createActor(machine, { input: input() });
    const values: unknown[] = [];
    actor.subscribe((snapshot) => values.push(snapshot.value));
    const done = toPromise(actor);
    actor.start();
    expect(actor.getSnapshot().value).toBe('validating');
    await expect(done).resolves.toMatchObject({ final: 'replied', disposition: { kind: 'ack' } });
    expect(calls).toEqual(['validate', 'handle', 'reply']);
    expect(values).not.toContain('received');
    expect(values).not.toContain('queued');
    expect(Object.keys(envelopeMachineFromValidating.states)).toEqual(Object.keys(envelopeMachine.states));
  });
});

describe('envelope machine: definition', () => {
  it("has id 'envelope' and lists every state, and exactly the final ones as final", () => {
    expect(envelopeMachine.id).toBe('envelope');
    const states = Object.values(envelopeMachine.states);
    expect(states.map((s) => s.key)).toEqual([...envelopeStateNames]);
    expect(states.filter((s) => s.type === 'final').map((s) => s.key).sort()).toEqual([...envelopeFinalStates].sort());
  });

  it('without .provide() its steps fail, so the message is retried, not lost', async () => {
    const actor = createActor(envelopeMachine, { input: input() });
    const done = toPromise(actor);
    actor.start();
    const output: EnvelopeActorOutput = await done;
    expect(output.final).toBe('retrying');
    expect(output.error?.message).toMatch(/'validate' was not provided/);
  });
});
