import { randomUUID } from 'node:crypto';
import { createActor, type Snapshot } from 'xstate';
import type { KV } from '@nats-io/kv';
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import {
  conversationMachine,
  type ConversationEvent,
  type ConversationInput,
  type ConversationOutcome,
} from '../../machines/conversation.machine.ts';
import type { Names } from '../transport/names.ts';
import { liveEntry } from '../transport/kv-entries.ts';
import { isAlreadyExists } from './status-store.ts';
import type { Timers } from './timers.ts';

/** A conversation as stored: the machine's persisted snapshot, readable by the status API. */
export interface ConversationRecord {
  readonly state: string;
  readonly status: 'active' | 'done';
  readonly context: ConversationInput & Record<string, unknown>;
  readonly output?: ConversationOutcome;
}

interface PersistedConversation {
  readonly value: string;
  readonly status: 'active' | 'done';
  readonly context: ConversationInput & Record<string, unknown>;
  readonly output?: ConversationOutcome;
}

export const CONVERSATION_TIMEOUT = 'conversation.timeout';

/** A conversation started by this process entered a state (awaitingReply, or how it ended). */
export interface ConversationChange {
  readonly from: string;
  readonly correlation: string;
  readonly state: string;
  readonly at: number;
}

/**
 * Conversations, passivated: the machine runs only for the instant an event arrives. Its
 * snapshot lives in the KV bucket `mailroom-conversations`; a reply, a feedback or the
 * durable timeout rehydrates it in whichever process receives it, advances it, and writes it
 * back with a revision check, so two processes can never both advance it. When it finishes,
 * a core NATS notice tells the other processes: the one whose callers wait for it, and the one
 * that started it (its `origin`, stored with it), which reports the end as a change.
 *
 * Nothing is held per conversation in this process unless a caller waits for its outcome
 * ({@link Conversations.wait}).
 */
type Resolve = (outcome: ConversationOutcome) => void;

/** The core NATS notice of a finished conversation: who started it, who finished it, how it ended. */
interface DoneNotice {
  readonly origin?: string;
  readonly by: string;
  readonly outcome: ConversationOutcome;
}

export class Conversations {
  /**
   * The callers waiting in this process, by requesting domain, then correlation: one resolve
   * function each (an array only when several wait for the same one). Keyed by the strings the
   * caller gave, not by a KV key built per conversation, so a waiting conversation costs one
   * Map entry and its promise.
   */
  readonly #waiters = new Map<string, Map<string, Resolve | Resolve[]>>();
  /** This runtime's instance, stored as the `origin` of the conversations it starts. */
  readonly #instance = randomUUID();
  /** How many ended conversations this process has learnt of (finished here, or a notice). */
  #ends = 0;
  #subscription: Subscription | undefined;
  #finished: ((link: Readonly<Record<string, string>>, outcome: ConversationOutcome) => Promise<void>) | undefined;

  constructor(
    private readonly kv: KV,
    private readonly nc: NatsConnection,
    private readonly names: Names,
    private readonly timers: Timers,
    private readonly onChange?: (change: ConversationChange) => void,
  ) {}

  /**
   * Runs `hook` in the process that finishes a conversation started with a `link`, after its
   * end is stored (the workflow engine wakes the workflow that asked). It is the fast path
   * only: a rejection reaches the caller of {@link Conversations.deliver}, but the end is
   * already stored, so whoever relies on the hook needs its own durable fallback (the engine
   * has a timer). Conversations without a link cost nothing more.
   */
  onFinished(hook: (link: Readonly<Record<string, string>>, outcome: ConversationOutcome) => Promise<void>): void {
    this.#finished = hook;
  }

  /** Starts listening for finished conversations (for the callers waiting in this process). */
  listen(): void {
    this.#subscription = this.nc.subscribe(this.names.conversationDoneWildcard, {
      callback: (error, msg) => {
        if (error) return;
        let notice: DoneNotice;
        let parsed;
        try {
          notice = msg.json<DoneNotice>();
          parsed = this.names.parseConversationDoneSubject(msg.subject);
        } catch {
          return;
        }
        // Our own notice: already settled where it was finished, in deliver().
        if (notice.by === this.#instance) return;
        this.#ended(parsed.from, parsed.correlation, notice.origin, notice.outcome);
      },
    });
  }

  async close(): Promise<void> {
    this.#subscription?.unsubscribe();
  }

  #key(from: string, correlation: string): string {
    return this.names.statusKey(from, correlation);
  }

  /** A conversation ended: its waiters here get the outcome; if this runtime started it, the end is reported. */
  #ended(from: string, correlation: string, origin: string | undefined, outcome: ConversationOutcome): void {
    this.#ends++;
    if (origin === this.#instance) this.onChange?.({ from, correlation: outcome.correlation, state: outcome.state, at: Date.now() });
    this.#resolve(from, correlation, outcome);
  }

  #resolve(from: string, correlation: string, outcome: ConversationOutcome): void {
    const byCorrelation = this.#waiters.get(from);
    const waiters = byCorrelation?.get(correlation);
    if (!byCorrelation || !waiters) return;
    byCorrelation.delete(correlation);
    if (byCorrelation.size === 0) this.#waiters.delete(from);
    if (typeof waiters === 'function') waiters(outcome);
    else for (const resolve of waiters) resolve(outcome);
  }

  /** Persists a new conversation (awaitingReply) and schedules its durable timeout. */
  async start(input: ConversationInput): Promise<void> {
    const actor = createActor(conversationMachine, { input: { ...input, origin: this.#instance } }).start();
    const persisted = actor.getPersistedSnapshot();
    actor.stop();
    const key = this.#key(input.from, input.correlation);
    await this.kv.create(key, JSON.stringify(persisted));
    await this.timers.schedule(CONVERSATION_TIMEOUT, key, input.timeoutAt, { from: input.from, correlation: input.correlation });
    this.onChange?.({ from: input.from, correlation: input.correlation, state: 'awaitingReply', at: Date.now() });
  }

  /**
   * Resolves when the conversation finishes (at once if it already has). Registered before the
   * check, so nothing slips between. `check: false` skips the check, for a conversation this
   * process has just started and whose request is not sent yet (it cannot have finished).
   * Until then it holds one promise and its resolve function in this process.
   *
   * `check` may also be a {@link Conversations.mark} taken when the conversation could not have
   * finished yet: if no conversation has ended since, as far as this process knows, it has not
   * either (its end would have been seen here: finished here, or its notice is still to come),
   * so the KV read is skipped.
   */
  wait(from: string, correlation: string, check: boolean | number = true): Promise<ConversationOutcome> {
    const promise = new Promise<ConversationOutcome>((resolve) => {
      let byCorrelation = this.#waiters.get(from);
      if (!byCorrelation) this.#waiters.set(from, (byCorrelation = new Map()));
      const existing = byCorrelation.get(correlation);
      byCorrelation.set(correlation, existing === undefined ? resolve : typeof existing === 'function' ? [existing, resolve] : [...existing, resolve]);
    });
    if (check === true || (typeof check === 'number' && check !== this.#ends)) {
      void this.get(from, correlation).then(
        (record) => {
          if (record?.output) this.#resolve(from, correlation, record.output);
        },
        () => undefined,
      );
    }
    return promise;
  }

  /** A mark for {@link Conversations.wait}: how many ends this process has seen so far. */
  mark(): number {
    return this.#ends;
  }

  async get(from: string, correlation: string): Promise<ConversationRecord | undefined> {
    const entry = liveEntry(await this.kv.get(this.#key(from, correlation)));
    if (!entry) return undefined;
    const p = entry.json<PersistedConversation>();
    return { state: p.value, status: p.status, context: p.context, ...(p.output ? { output: p.output } : {}) };
  }

  /**
   * Whether `peer` answers a conversation of `from` with this correlation: one was started (it
   * may wait still, or have ended already) and its request went to `peer`. One KV get on the
   * durable record, so it holds in any process and after a restart. An ended one still counts:
   * a late or repeated answer is an answer (ignored), not a new message for the handlers.
   */
  async answeredBy(from: string, correlation: string, peer: string): Promise<boolean> {
    const entry = liveEntry(await this.kv.get(this.#key(from, correlation)));
    return entry !== undefined && entry.json<PersistedConversation>().context.to === peer;
  }

  /**
   * Delivers an event to a conversation. `sender`, when given, must be the domain the request
   * went to: nobody else can answer it. Returns the outcome if this event finished it; undefined
   * when there is no such conversation, it had already finished, or the sender is not its peer.
   */
  async deliver(from: string, correlation: string, event: ConversationEvent, sender?: string): Promise<ConversationOutcome | undefined> {
    const key = this.#key(from, correlation);
    for (let tries = 0; tries < 10; tries++) {
      const entry = liveEntry(await this.kv.get(key));
      if (!entry) return undefined;
      const persisted = entry.json<PersistedConversation>();
      if (persisted.status === 'done') return undefined;
      if (sender !== undefined && sender !== persisted.context.to) return undefined;
      // The input is ignored when a snapshot is given; the types want it all the same.
      const actor = createActor(conversationMachine, { snapshot: persisted as unknown as Snapshot<unknown>, input: persisted.context }).start();
      actor.send(event);
      const next = actor.getPersistedSnapshot() as unknown as PersistedConversation;
      actor.stop();
      try {
        await this.kv.update(key, JSON.stringify(next), entry.revision);
      } catch (error) {
        // Another process advanced it first: read it again.
        if (isAlreadyExists(error)) continue;
        throw error;
      }
      if (next.status === 'done' && next.output) {
        if (next.context.link) await this.#finished?.(next.context.link, next.output);
        const notice: DoneNotice = { ...(next.context.origin ? { origin: next.context.origin } : {}), by: this.#instance, outcome: next.output };
        this.nc.publish(this.names.conversationDoneSubject(key), JSON.stringify(notice));
        this.#ended(from, correlation, next.context.origin, next.output);
        return next.output;
      }
      return undefined;
    }
    throw new Error(`conversation ${key}: too many concurrent updates`);
  }
}
