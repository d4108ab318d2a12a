/**
 * The public contract of a running Mailroom: what `startMailroom` takes and returns, and the
 * events it emits. It names the runtime's and the workflows' types, so it sits above both;
 * observability and HTTP read it, the composition in `src/mailroom/` implements it.
 */
import type { EventEmitter } from 'node:events';
import type { FastifyInstance } from 'fastify';
import type { AnyStateMachine, InspectionEvent } from 'xstate';
import type { ConversationOutcome } from '../../machines/conversation.machine.ts';
import type { EnvelopeDraft } from '../envelope/index.ts';
import type { Envelope } from '../envelope/types.ts';
import type { Names } from '../transport/names.ts';
import type { ConversationChange, ConversationRecord } from '../runtime/conversations.ts';
import type { CryptoPool } from '../runtime/crypto-pool.ts';
import type { DeadLetterStore } from '../runtime/dead-letter-store.ts';
import type { DeadLetterQuery } from '../runtime/dead-letter-query.ts';
import type { StatusQuery } from '../runtime/status-query.ts';
import type { EnvelopeTransition } from '../runtime/envelope-runner.ts';
import type { Handler, HandlerMap } from '../runtime/handlers.ts';
import type { MailroomStats, Readiness } from '../runtime/health.ts';
import type { AcceptOutcome } from '../runtime/inbox.ts';
import type { OrderingKey } from '../runtime/ordering.ts';
import type { RequestOptions } from '../runtime/requests.ts';
import type { EnvelopeStatus } from '../runtime/status-store.ts';
import type { Publication } from '../runtime/topics.ts';
import type { TraceContext } from '../runtime/trace-context.ts';
import type { WorkflowChange, WorkflowOptions, Workflows } from '../workflows/workflow-types.ts';
import type { InboxSnapshot } from './inbox-snapshot.ts';

export type { MailroomStats, Readiness } from '../runtime/health.ts';
export type { RequestOptions } from '../runtime/requests.ts';
export type { InboxSnapshot } from './inbox-snapshot.ts';

/** Adds routes to the runtime's HTTP server before it listens. */
export type HttpPlugin = (app: FastifyInstance) => void | Promise<void>;

/** One admin action over HTTP, as `onAudit` receives it. */
export interface AuditEntry {
  readonly action: string;
  /** `METHOD url-pattern`, e.g. `POST /dead-letters/:id/replay`. */
  readonly route: string;
  /** `token:<first 8 hex of sha256(token)>`, `loopback` (no tokens configured), or `anonymous` (refused). */
  readonly who: string;
  readonly peer: string;
  /** The IDs the action named: route parameters and what the handler noted (correlation, workflow id). */
  readonly ids: Readonly<Record<string, string>>;
  readonly status: number;
  readonly outcome: 'ok' | 'denied' | 'failed';
}

/** Options beside the config, for library use. */
export interface MailroomOptions {
  /** Handlers by local domain, in addition to the handler modules named in the config. */
  readonly handlers?: Readonly<Record<string, HandlerMap>>;
  /** Serve HTTP (default true). */
  readonly http?: boolean;
  /** Run the outbox worker that delivers replies and feedback (default true). */
  readonly outboxWorker?: boolean;
  /** Receives the inspection events of every actor (Stately Inspector). */
  readonly inspect?: (event: InspectionEvent) => void;
  /**
   * Ordered processing in code: the key of an envelope (undefined = no order). Overrides
   * `delivery.ordering` of the config; envelopes with the same key are handled one at a time,
   * in arrival order, across retries and processes.
   */
  readonly orderingKey?: OrderingKey;
  /** The clock used for timestamp checks (default `Date.now`). */
  readonly now?: () => number;
  /**
   * Where `POST /inbox` (and the other public routes) run. `inline` (the default): on this
   * thread, beside envelope processing. `worker`: on a worker thread of their own, with their
   * own NATS connection, so processing never delays the inbox's answer; the worker owns the
   * public port and passes every other request to this thread's server over a private Unix
   * socket. `mailroom start` uses `worker`. Needs `delivery.ordering` from the config rather than
   * an `orderingKey` function (a function cannot cross to the worker).
   */
  readonly ingress?: 'inline' | 'worker';
  /**
   * With `ingress: 'worker'`: lowers the OS scheduling priority of this thread (the one that
   * processes envelopes) by this nice increment (1–19; default 0: unchanged), once the ingress
   * thread has started at the old priority. When the cores are busy, the kernel then runs the
   * inbox first and processing with what is left: processing yields to ingress with strict
   * priority, without yielding in code. On Linux nice is per thread; threads started later by
   * this one (the crypto pool) inherit it. For a process of its own: `mailroom start` uses 10.
   * An embedding program's main thread would be lowered too. Cannot be undone without privileges.
   */
  readonly processingNice?: number;
  /** More HTTP routes (metrics, dashboard), registered before the server listens. */
  readonly httpPlugins?: readonly HttpPlugin[];
  /** An emitter to use for {@link Mailroom.events}, so listeners can be attached before start. */
  readonly events?: EventEmitter<MailroomEvents>;
  /** Where runtime errors go (default: stderr). */
  readonly onError?: (error: unknown, context: string) => void;
  /** Receives one entry per admin action over HTTP (replay, purge, workflow start/send/cancel/resume, conversation start). */
  readonly onAudit?: (entry: AuditEntry) => void;
  /**
   * Signature work (verify on the inbox, sign on the outbox) on worker threads: `true` starts a
   * pool with one worker per core, closed at stop; a pool passed in is used and left open.
   * Default: on the event loop.
   */
  readonly cryptoPool?: CryptoPool | boolean;
  /** Workflow kinds to register before anything is consumed (more can be registered later with `workflows.register`). */
  readonly workflows?: readonly { readonly machine: AnyStateMachine; readonly options?: WorkflowOptions }[];
  /**
   * The longest a durable timer waits before it looks at the clock again (default one day).
   * The test kit sets it short, so a clock moved forward fires timers at once.
   */
  readonly timerMaxWaitMs?: number;
}

/** Events a running Mailroom emits. */
export interface MailroomEvents {
  /** An envelope actor of this process reached a final state (after its message was settled). */
  settled: [status: EnvelopeStatus, envelope: Envelope | undefined];
  /** A conversation this process started is waiting (awaitingReply), or ended (replied, discarded, timedOut). */
  conversation: [change: ConversationChange];
  /** An envelope actor of this process entered a state. */
  transition: [transition: EnvelopeTransition];
  /** The outbox delivered an envelope. */
  delivered: [info: { to: string; from: string; local: boolean; status?: number; kind?: string; correlation?: string; feedbackFor?: string; trace_id?: string }];
  /** A workflow step was stored by this process. */
  workflow: [change: WorkflowChange];
  /** Feedback about a discarded envelope was not sent: its claimed sender is over the `feedback` rate. */
  feedbackSuppressed: [info: { sender: string; reason: 'rate-limit' }];
  /** The NATS connection was lost (the inbox answers 503) or is back. A loss is also reported to `onError`. */
  nats: [change: { type: 'disconnect' | 'reconnect'; server: string }];
  error: [error: unknown, context: string];
}

/** A started Mailroom runtime. */
export interface Mailroom {
  /** The HTTP base URL (`undefined` with `http: false`). */
  readonly url: string | undefined;
  /** Where the admin routes are served: the `http.admin` listener's URL, else {@link Mailroom.url}. */
  readonly adminUrl: string | undefined;
  /** The NATS server URL in use (the embedded server's when none was configured). */
  readonly natsUrl: string;
  readonly names: Names;
  readonly events: EventEmitter<MailroomEvents>;
  /** Registers a handler for a local domain's subject. */
  handle(domain: string, subject: string, handler: Handler): void;
  /** Offers a signed envelope to the inbox (what `POST /inbox` does). */
  accept(input: Uint8Array | string, format?: 'json' | 'yaml' | 'auto', trace?: TraceContext, callback?: string, client?: string): Promise<AcceptOutcome>;
  /**
   * Signs an envelope as a local domain and sends it through the outbox; with `delayMs` or
   * `notBefore` (epoch ms) it waits in a durable timer and is delivered no earlier.
   */
  send(draft: EnvelopeDraft & { From: string }, options?: { delayMs?: number; notBefore?: number }): Promise<Envelope>;
  /**
   * Sends a request and waits for its reply, as a conversation matched by correlation. The
   * waiting conversation is passivated to KV; the reply, feedback or timeout may be handled
   * by any process. Resolves with the outcome (replied, discarded or timedOut) while this
   * process lives; afterwards the outcome stays readable with {@link Mailroom.conversation}.
   */
  request(request: RequestOptions): Promise<ConversationOutcome>;
  /**
   * Starts a conversation without waiting: resolves once it is stored and its request sent, with
   * its correlation (for {@link Mailroom.conversation}) and `outcome`, which waits for its end
   * like {@link Mailroom.request}. The wait starts when `outcome` is first read: a conversation
   * whose outcome nobody reads holds nothing in this process while it waits.
   */
  startConversation(request: RequestOptions): Promise<{ readonly correlation: string; readonly outcome: Promise<ConversationOutcome> }>;
  /**
   * Publishes an event on a topic as a local domain: every subscribed domain gets its own
   * signed, durable copy (Subject = the topic) and its own envelope actor.
   */
  publish(event: { from: string; topic: string; body?: Envelope['Body']; eventId?: string }): Promise<Publication>;
  /**
   * Subscribes a domain to a topic, for every process sharing this NATS. With a handler, the
   * domain must be hosted here and the handler handles the topic's events for it.
   */
  subscribe(topic: string, domain: string, handler?: Handler): Promise<void>;
  unsubscribe(topic: string, domain: string): Promise<void>;
  /** A conversation's state and context, by the requesting domain and the correlation. */
  conversation(from: string, correlation: string): Promise<ConversationRecord | undefined>;
  /** The status of an envelope received here, by sender and correlation. */
  status(from: string, correlation: string): Promise<EnvelopeStatus | undefined>;
  /** The dead letters: list, show, replay (through a fresh actor, same correlation), purge. */
  readonly deadLetters: DeadLetterStore;
  /** Operators' lists over the stores: envelope statuses and dead letters, filtered, a page at a time (the dashboard's). */
  readonly queries: { readonly envelopes: StatusQuery; readonly deadLetters: DeadLetterQuery };
  /** Queue depths: what waits in the inbox and outbox, what is being worked on, the dead letters. */
  stats(): Promise<MailroomStats>;
  /** Ready = the inbox can store: connected to NATS, and its stream answers (what `GET /readyz` reports). */
  ready(): Promise<Readiness>;
  /** What `POST /inbox` answered and how fast, wherever it runs (`undefined` without HTTP). For `/metrics`. */
  inboxMetrics(): Promise<InboxSnapshot | undefined>;
  /** Durable workflows: register machines, start them, send them events, read them. */
  readonly workflows: Workflows;
  /**
   * Stops taking work, lets the actors in flight finish (at most `delivery.stopGrace`; then their
   * handlers' signals are aborted and their envelopes handed back to the queue), releases everything.
   * Idempotent.
   */
  stop(): Promise<void>;
}
