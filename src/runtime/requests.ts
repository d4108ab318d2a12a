/**
 * Request and reply as conversations: `Mailroom.request` and `startConversation`, a workflow's
 * request, and the way back (a reply or feedback that arrives in the inbox ends the waiting
 * conversation). A conversation is stored (awaitingReply) with a durable timeout before its
 * request is signed and sent; whichever process handles the answer ends it.
 */
import type { ConversationOutcome } from '../../machines/conversation.machine.ts';
import type { Envelope } from '../envelope/types.ts';
import type { LosslessBody } from '../envelope/lossless-body.ts';
import { CONVERSATION_TIMEOUT, type Conversations } from './conversations.ts';
import type { Domains } from './domains.ts';
import { FEEDBACK_SUBJECT } from './handlers.ts';
import type { Sender } from './sender.ts';
import { isAlreadyExists } from './status-store.ts';
import type { TimerHandler } from './timers.ts';

/** A request for {@link Requests.request} (`Mailroom.request`). */
export interface RequestOptions {
  readonly from: string;
  readonly to: string;
  readonly subject: string;
  /** A {@link LosslessBody} keeps its numbers as written (what `POST /conversations` passes). */
  readonly body?: Envelope['Body'] | LosslessBody;
  /** How long to wait for the reply (default 30 s). The timeout is a durable timer. */
  readonly timeoutMs?: number;
  readonly correlation?: string;
}

/** A workflow's request: its correlation is fixed, and `link` comes back when the conversation ends. */
export type LinkedRequest = Omit<RequestOptions, 'correlation'> & { readonly correlation: string; readonly link: Readonly<Record<string, string>> };

/** What {@link Requests.startConversation} resolves with: the outcome is waited for only once read. */
export class StartedConversation {
  readonly #conversations: Conversations;
  readonly #from: string;
  readonly #mark: number;
  #outcome: Promise<ConversationOutcome> | undefined;
  constructor(
    conversations: Conversations,
    from: string,
    readonly correlation: string,
    mark: number,
  ) {
    this.#conversations = conversations;
    this.#from = from;
    this.#mark = mark;
  }

  get outcome(): Promise<ConversationOutcome> {
    // The request is out: it may have been answered already, so the wait checks KV unless no conversation ended since the mark.
    return (this.#outcome ??= this.#conversations.wait(this.#from, this.correlation, this.#mark));
  }
}

/** The request a Feedback@Buffer is about (its Body's `Sender` and `Correlation`), and why it was discarded. */
function feedbackAbout(envelope: Envelope): { sender: string; correlation: string; reason: string } | undefined {
  const body = envelope.Body as { Sender?: unknown; Correlation?: unknown; Reason?: unknown } | null;
  if (typeof body !== 'object' || body === null || typeof body.Sender !== 'string' || typeof body.Correlation !== 'string') return undefined;
  return { sender: body.Sender, correlation: body.Correlation, reason: typeof body.Reason === 'string' ? body.Reason : 'Discarded.' };
}

export class Requests {
  constructor(
    private readonly parts: {
      readonly conversations: Conversations;
      readonly sender: Sender;
      readonly domains: Domains;
      readonly now: () => number;
    },
  ) {}

  /** Sends a request and waits for its outcome (replied, discarded, timedOut). */
  readonly request = async (request: RequestOptions): Promise<ConversationOutcome> => {
    const correlation = request.correlation ?? crypto.randomUUID();
    await this.#open(request, correlation);
    // Just stored, its request not sent yet: it cannot have finished, so no KV read to check.
    const outcome = this.parts.conversations.wait(request.from, correlation, false);
    await this.#send(request, correlation);
    return outcome;
  };

  /** Sends a request without waiting: resolves once it is stored and sent. */
  readonly startConversation = async (request: RequestOptions): Promise<StartedConversation> => {
    const { conversations } = this.parts;
    const correlation = request.correlation ?? crypto.randomUUID();
    await this.#open(request, correlation);
    // Before the request goes out: the conversation cannot have finished yet.
    const mark = conversations.mark();
    await this.#send(request, correlation);
    return new StartedConversation(conversations, request.from, correlation, mark);
  };

  /** A workflow's request (the engine's `request`): idempotent for one correlation. Returns when it times out. */
  readonly linked = async (request: LinkedRequest): Promise<{ readonly timeoutAt: number }> => {
    const timeoutAt = await this.#open(request, request.correlation, request.link);
    // Also when it was opened before (a redelivered task): the request may not have gone out; the outbox's dedupe keeps it single.
    await this.#send(request, request.correlation);
    return { timeoutAt };
  };

  /**
   * Whether a verified envelope answers one of our requests: a conversation of its `To` with its
   * correlation, whose request went to its `From` (Feedback@Buffer: the conversation its Body's
   * `Sender` and `Correlation` name, its request sent to the feedback's `From`). Decided by the
   * stored conversation, never by subject: a `Reply@Host` nobody asked for goes to the handlers.
   * One KV get.
   */
  readonly isAnswer = async (envelope: Envelope): Promise<boolean> => {
    const { Header } = envelope;
    if (Header.Subject !== FEEDBACK_SUBJECT) return this.parts.conversations.answeredBy(Header.To, Header.Correlation, Header.From);
    const about = feedbackAbout(envelope);
    // Only a domain hosted here has conversations: no KV read for feedback about anyone else.
    return about !== undefined && this.parts.domains.isLocal(about.sender) && this.parts.conversations.answeredBy(about.sender, about.correlation, Header.From);
  };

  /** A reply that arrived in the inbox ends the conversation it answers. */
  readonly reply = async (envelope: Envelope): Promise<void> => {
    const { Header, Body } = envelope;
    await this.parts.conversations.deliver(Header.To, Header.Correlation, { type: 'conversation.reply', subject: Header.Subject, body: Body, at: this.parts.now() }, Header.From);
  };

  /** Feedback that arrived in the inbox (our request was discarded) ends the conversation it names. */
  readonly feedback = async (envelope: Envelope): Promise<void> => {
    const about = feedbackAbout(envelope);
    if (!about) return;
    await this.parts.conversations.deliver(about.sender, about.correlation, { type: 'conversation.feedback', reason: about.reason, at: this.parts.now() }, envelope.Header.From);
  };

  /** The durable timeout of a waiting conversation: it ends as timedOut, in whichever process the timer fires. */
  timerHandlers(): Record<string, TimerHandler> {
    return {
      [CONVERSATION_TIMEOUT]: async (payload) => {
        const { from, correlation } = payload as { from: string; correlation: string };
        await this.parts.conversations.deliver(from, correlation, { type: 'conversation.timeout', at: this.parts.now() });
      },
    };
  }

  /**
   * Stores a conversation (awaitingReply) with its durable timeout; returns when it times out.
   * One with a `link` (a workflow's) may exist already, from an earlier try: that one is kept.
   */
  async #open(request: Omit<RequestOptions, 'correlation'>, correlation: string, link?: Readonly<Record<string, string>>): Promise<number> {
    const { conversations, domains, now } = this.parts;
    domains.identityOf(request.from);
    const startedAt = now();
    const timeoutAt = startedAt + (request.timeoutMs ?? 30_000);
    try {
      await conversations.start({ from: request.from, to: request.to, subject: request.subject, correlation, startedAt, timeoutAt, ...(link ? { link } : {}) });
      return timeoutAt;
    } catch (error) {
      if (!link || !isAlreadyExists(error)) throw error;
      return (await conversations.get(request.from, correlation))?.context.timeoutAt ?? timeoutAt;
    }
  }

  #send(request: Omit<RequestOptions, 'correlation'>, correlation: string): Promise<Envelope> {
    return this.parts.sender.send({ From: request.from, To: request.to, Subject: request.subject, Correlation: correlation, ...(request.body !== undefined ? { Body: request.body } : {}) });
  }
}
