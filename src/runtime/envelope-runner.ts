import { createActor, fromTransition, type InspectionEvent } from 'xstate';
import type { Consumer, JsMsg } from '@nats-io/jetstream';
import {
  envelopeMachine,
  envelopeStepActions,
  type EnvelopeSteps,
  type EnvelopeActorInput,
  type EnvelopeActorOutput,
  type EnvelopeDeadLetterInput,
  type EnvelopeFeedbackInput,
  type EnvelopeFeedbackOutput,
  type EnvelopeHandleOutput,
  type EnvelopeReplyInput,
  type EnvelopeStepInput,
  type EnvelopeValidateOutput,
} from '../../machines/envelope.machine.ts';
import { decodeEnvelope, type DecodedEnvelope, type ParseLimits } from '../envelope/index.ts';
import type { Envelope, Result } from '../envelope/types.ts';
import { extend, nak, settle, withJitter } from './disposition.ts';
import { startConsumeLoop } from './consume-loop.ts';
import { CALLBACK_HEADER, RECEIVED_AT_HEADER, REPLAYED_BY_HEADER } from './message-headers.ts';
import { startLoadLimit } from './load-limit.ts';
import { FEEDBACK_SUBJECT, isReplySubject, replyOf, type HandlerRegistry } from './handlers.ts';
import { callHandler, handlerTimeoutFor } from './handler-timeout.ts';
import { humanReason, type DomainIdentity, type Outbound, type PublishOptions } from './outbound.ts';
import type { EnvelopeStatus, StatusStep, StatusStore } from './status-store.ts';
import { validateEnvelope, type Validation, type ValidatorDeps } from './validator.ts';
import type { Throttle } from './throttle.ts';
import type { FeedbackLimiter } from './feedback-limiter.ts';
import { traceFromHeaders, type TraceContext } from './trace-context.ts';
import type { DeadLetters } from './dead-letters.ts';

/**
 * One stored message while its actor runs (or waits for the throttle), keyed by stream and
 * sequence: one flight, so one actor, per message in this process. Held in memory only for
 * the actor's short life.
 */
interface Flight {
  /**
   * The newest delivery of the message. A redelivery that arrives while the actor runs (the ack
   * wait passed) replaces it and starts no second actor: the actor settles with the newest
   * delivery's ack subject (nats-server acks by stream sequence; an older one's would do too).
   */
  msg: JsMsg;
  /** When this process got the message (ms): an actor older than the ack wait may have been overtaken. */
  readonly startedAt: number;
  readonly decoded: Result<DecodedEnvelope>;
  readonly history: StatusStep[];
  readonly trace?: TraceContext;
  /** Aborted when the runner gives up on the message at stop (its grace ran out; the message was handed back). */
  readonly stop: AbortSignal;
  /** Set by a dead-letter replay (`Mailroom-Replayed-By`): who replayed it. Freshness is not checked again. */
  readonly replayedBy?: string;
  reply?: { subject: string; body: DecodedEnvelope['envelope']['Body'] };
  /** What validation proved (absent when validation did not finish). */
  validation?: Validation;
  /**
   * The final status this very envelope (same Hash) already has: it was answered before (a
   * redelivery whose ack was lost, a re-post after a broker restart). The actor runs no side
   * effect and the status is not written again; the message is only settled.
   */
  settledAs?: EnvelopeStatus;
}

/** What the runner needs; built by `createMailroom`. */
export interface EnvelopeRunnerDeps {
  readonly consumer: Consumer;
  /** The ordered partitions' consumers: each runs one envelope at a time. */
  readonly orderedConsumers?: readonly Consumer[];
  readonly validator: ValidatorDeps;
  readonly limits: ParseLimits;
  readonly handlers: HandlerRegistry;
  readonly identities: ReadonlyMap<string, DomainIdentity>;
  readonly bufferOf: (sender: string) => string | undefined;
  /** Feedback per claimed sender; over the limit an envelope ends `noFeedback`. */
  readonly feedbackLimiter?: FeedbackLimiter;
  readonly outbound: Outbound;
  readonly status: StatusStore;
  readonly deadLetters: DeadLetters;
  readonly delivery: {
    maxAttempts: number;
    concurrency: number;
    ackWaitMs: number;
    retry: EnvelopeActorInput['retry'];
    /** The longest a handler may run (default 30 s): then the attempt fails as retryable, `handler-timeout`. */
    handlerTimeoutMs?: number;
    /** The longest `stop()` waits for the envelopes in flight (default: until they are done); then their handlers are aborted and their messages naked. */
    stopGraceMs?: number;
    /** Per-subject overrides of the attempts, the backoff and the handler timeout. */
    subjects?: Readonly<Record<string, { readonly maxAttempts?: number; readonly retry?: EnvelopeActorInput['retry']; readonly handlerTimeoutMs?: number }>>;
  };
  /** Per-subject and per-sender limits; envelopes over them wait here, unacked and kept alive. */
  readonly throttle?: Throttle;
  readonly onSettled?: (status: EnvelopeStatus, decoded: DecodedEnvelope | undefined) => void;
  /** Sends the final status to the callback URL the sender asked for (durably, through the outbox). */
  readonly callback?: (url: string, status: EnvelopeStatus) => Promise<void>;
  /** Answers to this runtime's own requests: a reply, or feedback about a discarded request. */
  readonly answers?: { reply(envelope: Envelope): Promise<void>; feedback(envelope: Envelope): Promise<void> };
  /** Every state an envelope actor enters, as it happens (for metrics and the dashboard). */
  readonly onTransition?: (transition: EnvelopeTransition) => void;
  readonly onError?: (error: unknown, context: string) => void;
  readonly inspect?: (event: InspectionEvent) => void;
}

/** One state an envelope actor entered. `previous` is the state it left. */
export interface EnvelopeTransition {
  readonly from: string;
  readonly to: string;
  readonly subject: string;
  readonly correlation: string;
  readonly attempt: number;
  readonly previous: string;
  readonly state: string;
  readonly at: number;
  /** The W3C trace context the envelope arrived with, if any. */
  readonly trace?: TraceContext;
}

/**
 * A running consume loop. `stop()` stops pulling, waits for the actors in flight (at most
 * `delivery.stopGraceMs`; then aborts their handlers and naks their messages), and is idempotent.
 */
export interface EnvelopeRunner {
  readonly inFlight: () => number;
  stop(): Promise<void>;
}

const UNKNOWN = '?';

export { CALLBACK_HEADER, RECEIVED_AT_HEADER, REPLAYED_BY_HEADER } from './message-headers.ts';

/** The flight key of a stored message: its stream and sequence (the inbox and the ordered stream count apart). */
const flightKey = (msg: JsMsg): string => `${msg.info.stream}/${msg.seq}`;

function actorInput(flight: Flight, deps: EnvelopeRunnerDeps): EnvelopeActorInput {
  const header = flight.decoded.ok ? flight.decoded.value.envelope.Header : undefined;
  const policy = header ? deps.delivery.subjects?.[header.Subject] : undefined;
  return {
    messageId: flightKey(flight.msg),
    from: header?.From ?? UNKNOWN,
    to: header?.To ?? UNKNOWN,
    subject: header?.Subject ?? UNKNOWN,
    correlation: header?.Correlation ?? UNKNOWN,
    attempt: flight.msg.info.deliveryCount,
    maxAttempts: policy?.maxAttempts ?? deps.delivery.maxAttempts,
    retry: policy?.retry ?? deps.delivery.retry,
    receivedAt: Math.floor(flight.msg.info.timestampNanos / 1e6),
  };
}

/** A rerun may find its outbound envelope recorded already: read the record before signing then. */
function publishOptions(flight: Flight, attempt: number): PublishOptions {
  const mayExist = attempt > 1 || flight.validation?.known === true || flight.replayedBy !== undefined;
  return { mayExist, ...(flight.trace ? { trace: flight.trace } : {}) };
}

/** The envelope machine with the runtime's side effects supplied. */
function provideEnvelopeMachine(flights: Map<string, Flight>, deps: EnvelopeRunnerDeps) {
  const flight = (id: string): Flight => {
    const found = flights.get(id);
    if (!found) throw new Error(`no message in flight with id ${id}`);
    return found;
  };
  const envelopeOf = (id: string) => {
    const decoded = flight(id).decoded;
    if (!decoded.ok) throw new Error(`message ${id} did not decode`);
    return decoded.value.envelope;
  };
  const steps: EnvelopeSteps = {
    validate: async (input: EnvelopeStepInput): Promise<EnvelopeValidateOutput> => {
      const f = flight(input.messageId);
      const validation = await validateEnvelope(f.decoded, deps.validator, { replayed: f.replayedBy !== undefined });
      f.validation = validation;
      if (validation.known && f.replayedBy === undefined && f.decoded.ok) {
        // This very envelope was seen before: if it already has its final status, only settle it.
        const { Header, Hash } = f.decoded.value.envelope;
        const previous = await deps.status.get(Header.From, Header.Correlation);
        if (previous?.final && previous.verified && previous.hash === Hash) {
          f.settledAs = previous;
          return { ok: true };
        }
      }
      const { result } = validation;
      if (result.ok) return { ok: true };
      const { reason, detail, field } = result.error;
      return field === undefined ? { ok: false, reason, detail } : { ok: false, reason, detail, field };
    },
    handle: async (input: EnvelopeStepInput): Promise<EnvelopeHandleOutput> => {
      const f = flight(input.messageId);
      const envelope = envelopeOf(input.messageId);
      const { Header } = envelope;
      if (f.settledAs) return { replyCorrelation: Header.Correlation };
      if (Header.Subject === FEEDBACK_SUBJECT) await deps.answers?.feedback(envelope);
      else if (isReplySubject(Header.Subject)) await deps.answers?.reply(envelope);
      else {
        const handler = deps.handlers.get(Header.To, Header.Subject);
        if (!handler) throw Object.assign(new Error(`no handler for ${Header.Subject}`), { retryable: false, reason: 'unknown-subject' });
        const context = { envelope, from: Header.From, to: Header.To, subject: Header.Subject, correlation: Header.Correlation, body: envelope.Body, attempt: input.attempt };
        const result = await callHandler(handler, context, { timeoutMs: handlerTimeoutFor(deps.delivery, Header.Subject), stop: f.stop });
        const reply = replyOf(result, Header.Subject);
        if (reply) f.reply = reply;
      }
      return { replyCorrelation: Header.Correlation };
    },
    reply: async (input: EnvelopeReplyInput): Promise<void> => {
      const f = flight(input.messageId);
      if (!f.reply || f.settledAs) return;
      const { Header } = envelopeOf(input.messageId);
      const identity = deps.identities.get(Header.To);
      if (!identity) throw Object.assign(new Error(`no signing key for ${Header.To}`), { retryable: false });
      await deps.outbound.reply(identity, Header, f.reply.subject, f.reply.body, publishOptions(f, input.attempt));
    },
    sendFeedback: async (input: EnvelopeFeedbackInput): Promise<EnvelopeFeedbackOutput> => {
      const f = flight(input.messageId);
      const decoded = f.decoded;
      if (!decoded.ok || f.settledAs) return 'none';
      const { Header, Hash } = decoded.value.envelope;
      // Loop guard: never feedback about feedback.
      if (Header.Subject === FEEDBACK_SUBJECT) return 'none';
      const buffer = deps.bufferOf(Header.From);
      const identity = deps.identities.get(Header.To);
      if (!buffer || !identity) return 'none';
      if (deps.feedbackLimiter && !deps.feedbackLimiter.allow(Header.From)) return 'none';
      await deps.outbound.feedback(identity, buffer, { From: Header.From, Correlation: Header.Correlation, Hash }, humanReason(input.discard.reason, input.discard.detail), publishOptions(f, input.attempt));
      return 'sent';
    },
    deadLetter: async (input: EnvelopeDeadLetterInput): Promise<void> => {
      const f = flight(input.messageId);
      // The actor is entering deadLettering as this runs; the record's history ends there.
      const history = f.history.at(-1)?.state === 'deadLettering' ? f.history : [...f.history, { state: 'deadLettering', at: new Date().toISOString() }];
      await deps.deadLetters.publish(f.msg, input.deadLetter, history);
    },
  };
  return envelopeMachine.provide({ actions: envelopeStepActions(steps) });
}

function statusOf(input: EnvelopeActorInput, output: EnvelopeActorOutput, history: readonly StatusStep[], replySubject: string | undefined): EnvelopeStatus {
  return {
    from: input.from,
    to: input.to,
    subject: input.subject,
    correlation: input.correlation,
    state: output.final,
    final: output.final !== 'retrying',
    attempt: input.attempt,
    history,
    ...(output.discard ? { discard: output.discard } : {}),
    ...(output.replyCorrelation && replySubject ? { replyCorrelation: output.replyCorrelation, replySubject } : {}),
    ...(output.deadLetter ? { deadLetter: output.deadLetter } : {}),
    ...(output.disposition.kind === 'nak' ? { retryDelayMs: output.disposition.delayMs } : {}),
    ...(output.final === 'retrying' && output.error ? { error: output.error } : {}),
    updatedAt: new Date().toISOString(),
  };
}

/** What an {@link ActorObserver} reports to: the runner's dependencies, its flights, and how it settles. */
interface ActorOwner {
  readonly deps: EnvelopeRunnerDeps;
  readonly flights: Map<string, Flight>;
  readonly finish: (flight: Flight, input: EnvelopeActorInput, output: EnvelopeActorOutput) => Promise<void>;
}

/**
 * Watches one envelope actor: records each state it enters (history, `onTransition`) and
 * settles its message when it is done. A class, so an envelope costs one object here
 * instead of a handful of closures.
 */
class ActorObserver {
  subscription?: { unsubscribe(): void };
  private last = 'queued';

  constructor(
    private readonly owner: ActorOwner,
    private readonly id: string,
    private readonly messageId: string,
    private readonly flight: Flight,
    private readonly input: EnvelopeActorInput,
    private readonly resolve: () => void,
  ) {}

  record(value: unknown): void {
    const state = String(value);
    if (state === this.last || state === 'received' || state === 'queued') return;
    const at = Date.now();
    const { input, flight } = this;
    const onTransition = this.owner.deps.onTransition;
    // An envelope answered before is only settled: its actor's steps are no news.
    if (onTransition && !flight.settledAs) {
      const trace = flight.trace;
      onTransition({ from: input.from, to: input.to, subject: input.subject, correlation: input.correlation, attempt: input.attempt, previous: this.last, state, at, ...(trace ? { trace } : {}) });
    }
    this.last = state;
    flight.history.push({ state, at: new Date(at).toISOString() });
  }

  next(snapshot: { value: unknown; status: string; output?: unknown }): void {
    this.record(snapshot.value);
    if (snapshot.status !== 'done') return;
    this.subscription?.unsubscribe();
    this.owner
      .finish(this.flight, this.input, snapshot.output as EnvelopeActorOutput)
      .catch((error: unknown) => {
        this.owner.deps.onError?.(error, `settling ${this.id}`);
        settle(this.flight.msg, nak(1_000));
      })
      .finally(() => this.done());
  }

  error(error: unknown): void {
    this.owner.deps.onError?.(error, `envelope actor ${this.id}`);
    settle(this.flight.msg, nak(1_000));
    this.done();
  }

  private done(): void {
    this.owner.flights.delete(this.messageId);
    this.resolve();
  }
}

/**
 * Consumes the inbox: every delivered message becomes an envelope actor, spawned in one
 * actor system (the `mailroom` root actor), and the message is settled only when the
 * actor reaches a final state.
 */
export async function startEnvelopeRunner(deps: EnvelopeRunnerDeps): Promise<EnvelopeRunner> {
  const flights = new Map<string, Flight>();
  const envelopeLogic = provideEnvelopeMachine(flights, deps);
  // The root of the actor system every envelope actor joins (one clock, one inspection
  // stream). Envelope actors name it as their parent instead of being spawned into a
  // machine's `children`, which XState copies on every spawn and stop: O(actors in flight).
  const system = createActor(
    fromTransition((state: null) => state, null),
    { id: 'mailroom', ...(deps.inspect ? { inspect: deps.inspect } : {}) },
  );
  system.start();

  const finish = async (flight: Flight, input: EnvelopeActorInput, output: EnvelopeActorOutput): Promise<void> => {
    if (flight.settledAs) {
      // Answered before: nothing to write, nothing to send; only the message is settled.
      settle(flight.msg, withJitter(output.disposition));
      return;
    }
    const status = await statusFor(flight, input, output);
    const validation = flight.validation;
    if (!validation?.holder) {
      // Unverified, or a different envelope reusing the correlation: never over the holder's status.
      await deps.status.putUnlessHeld(status);
    } else if (flight.replayedBy !== undefined) {
      // A replay starts over from a final status on purpose.
      await deps.status.put(status);
    } else if (validation.known || Date.now() - flight.startedAt > deps.delivery.ackWaitMs / 2) {
      // Seen before, or past the ack wait (JetStream may have redelivered the message to a newer
      // actor that has already finished): never over a final status, nor a later attempt's.
      await deps.status.putUnlessSuperseded(status);
    } else await deps.status.put(status);
    const callbackUrl = flight.msg.headers?.get(CALLBACK_HEADER);
    // Only for the verified envelope holding its correlation: an unverified one must not make this
    // runtime POST to a URL of its choosing (a reflector), whatever it claims to be.
    if (callbackUrl && status.final && status.verified) await deps.callback?.(callbackUrl, status);
    settle(flight.msg, withJitter(output.disposition));
    deps.onSettled?.(status, flight.decoded.ok ? flight.decoded.value : undefined);
  };

  const statusFor = async (flight: Flight, input: EnvelopeActorInput, output: EnvelopeActorOutput): Promise<EnvelopeStatus> => {
    let history: StatusStep[] = flight.history;
    if (flight.replayedBy !== undefined) {
      // A dead-letter replay: the history so far, then who replayed it, then this run.
      const previous = await deps.status.get(input.from, input.correlation).catch(() => undefined);
      const replayed: StatusStep = { state: 'replayed', at: history[1]?.at ?? new Date().toISOString(), by: flight.replayedBy };
      history = [...(previous?.verified ? previous.history : history.slice(0, 1)), replayed, ...history.slice(1)];
    } else if (input.attempt > 1) {
      const previous = await deps.status.get(input.from, input.correlation).catch(() => undefined);
      if (previous && previous.history.length > 2) history = [...previous.history, ...history.slice(2)];
    }
    const envelope = flight.decoded.ok ? flight.decoded.value.envelope : undefined;
    const isAnswer = envelope !== undefined && (envelope.Header.Subject === FEEDBACK_SUBJECT || isReplySubject(envelope.Header.Subject));
    return {
      ...statusOf(input, output, history, flight.reply?.subject),
      ...(isAnswer && !output.discard ? { body: envelope.Body } : {}),
      ...(envelope ? { hash: envelope.Hash } : {}),
      ...(flight.validation?.holder ? { verified: true } : {}),
    };
  };

  const owner: ActorOwner = { deps, flights, finish };
  const run = async (msg: JsMsg, stop: AbortSignal): Promise<void> => {
    const key = flightKey(msg);
    const running = flights.get(key);
    if (running) {
      // A redelivery of a message whose actor runs here: no second actor; it settles with this delivery.
      if (msg.info.deliveryCount >= running.msg.info.deliveryCount) running.msg = msg;
      return;
    }
    // Decoded once, here: the throttle needs the header, the actor the whole envelope.
    const decoded = decodeEnvelope(msg.data, { limits: deps.limits });
    const queuedAt = new Date(Math.floor(msg.info.timestampNanos / 1e6)).toISOString();
    const receivedAt = msg.headers?.get(RECEIVED_AT_HEADER) || queuedAt;
    const history: StatusStep[] = [
      { state: 'received', at: receivedAt },
      { state: 'queued', at: queuedAt },
    ];
    const trace = traceFromHeaders(msg.headers);
    const replayedBy = msg.headers?.get(REPLAYED_BY_HEADER) || undefined;
    const flight: Flight = { msg, startedAt: Date.now(), decoded, history, stop, ...(trace ? { trace } : {}), ...(replayedBy ? { replayedBy } : {}) };
    flights.set(key, flight);
    let release = (): void => undefined;
    try {
      const throttle = deps.throttle;
      if (throttle && !throttle.inactive && decoded.ok) release = await throttle.acquire(decoded.value.envelope.Header.Subject, decoded.value.envelope.Header.From);
      // Given up on while it waited (the loop stopped and naked it): another process has it now.
      if (stop.aborted) return;
      await runActor(key, flight);
    } finally {
      // The actor deleted it when done; a newer flight of the same message may be there by now.
      if (flights.get(key) === flight) flights.delete(key);
      release();
    }
  };
  const runActor = (key: string, flight: Flight): Promise<void> =>
    new Promise<void>((resolve) => {
      const input = actorInput(flight, deps);
      const id = `${flight.msg.seq}.${flight.msg.info.deliveryCount}`;
      const child = createActor(envelopeLogic, { id, input, parent: system });
      const observer = new ActorObserver(owner, id, key, flight, input, resolve);
      observer.subscription = child.subscribe(observer);
      child.start();
      const snapshot = child.getSnapshot();
      if (snapshot.status === 'active') observer.record(snapshot.value);
    });

  // Past the stop grace, the loops nak what is still running and abort `stop`: a handler's signal aborts with it.
  const loopOptions = deps.delivery.stopGraceMs !== undefined ? { stopGraceMs: deps.delivery.stopGraceMs } : {};
  // The shared inbox takes what the CPU can finish; the rest waits in JetStream (load-limit.ts).
  const load = startLoadLimit(deps.delivery.concurrency);
  const loop = await startConsumeLoop(deps.consumer, deps.delivery.concurrency, run, (error, context) => deps.onError?.(error, `inbox: ${context}`), { ...loopOptions, limit: load.current });
  const orderedLoops = await Promise.all(
    (deps.orderedConsumers ?? []).map((consumer, p) => startConsumeLoop(consumer, 1, run, (error, context) => deps.onError?.(error, `ordered ${p}: ${context}`), loopOptions)),
  );
  // One timer for all messages in flight (running, or waiting for the throttle): a message worked
  // on for a third of the ack wait is marked in progress, so a slow handler is not redelivered to
  // another actor meanwhile.
  const keepAlive = setInterval(() => {
    const due = Date.now() - deps.delivery.ackWaitMs / 3;
    for (const flight of flights.values()) if (flight.startedAt < due) extend(flight.msg);
  }, Math.max(100, Math.floor(deps.delivery.ackWaitMs / 3)));
  keepAlive.unref();
  let stopping: Promise<void> | undefined;
  return {
    inFlight: () => loop.active() + orderedLoops.reduce((n, l) => n + l.active(), 0),
    stop: () =>
      (stopping ??= (async () => {
        await Promise.all([loop.stop(), ...orderedLoops.map((l) => l.stop())]);
        load.stop();
        clearInterval(keepAlive);
        system.stop();
      })()),
  };
}
