import type { Envelope } from '../envelope/types.ts';

/** What a handler sees of one envelope (verified, unless `verified` says otherwise). */
export interface HandlerContext {
  readonly envelope: Envelope;
  readonly from: string;
  readonly to: string;
  readonly subject: string;
  readonly correlation: string;
  readonly body: Envelope['Body'];
  /** 1-based delivery attempt; > 1 after a retry or a redelivery. */
  readonly attempt: number;
  /**
   * Whether the envelope's signature verified against its sender's key. `false` only for an
   * unproven envelope (unsigned, or from `Anonymous` or a wallet UUID) to one of the domain's
   * `publicSubjects`: `from` is then only what the envelope claims, and no reply is sent for it
   * (whatever the handler returns is dropped). Every other subject requires a valid signature.
   */
  readonly verified: boolean;
  /**
   * Aborted when the handler has run past its subject's `delivery.handlerTimeout` (reason: a
   * `HandlerTimeoutError`; the attempt has failed and will be retried) or when the runtime stops
   * and the grace period (`delivery.stopGrace`) has passed (reason: a `HandlerStoppedError`; the
   * envelope was handed back to the queue). Pass it to `fetch` and friends, or check
   * `signal.aborted`, to stop work nobody waits for: whatever the handler returns after the
   * abort is ignored (no reply is sent for it).
   *
   * @example
   * ```ts
   * const handler: Handler = async ({ body, signal }) => {
   *   const res = await fetch('https://stock.internal/reserve', { method: 'POST', body: JSON.stringify(body), signal });
   *   return { reserved: res.ok };
   * };
   * ```
   */
  readonly signal: AbortSignal;
}

/**
 * A handler's result: a Body for the reply envelope, `{ reply: { subject?, body } }` to
 * choose the reply's subject, or `undefined`/`null` for no reply (one-way messages).
 */
export type HandlerResult = Envelope['Body'] | { readonly reply: { readonly subject?: string; readonly body: Envelope['Body'] } } | null | undefined | void;

/** An async function that handles one subject for one local domain. */
export type Handler = (context: HandlerContext) => HandlerResult | Promise<HandlerResult>;

/** Handlers by subject, as a handlers module exports them (`export default { 'Hello@Host': fn }`). */
export type HandlerMap = Readonly<Record<string, Handler>>;

// The handler errors live in `src/errors/handler-errors.ts`, each with its contract.
export { RetryableError, FinalError } from '../errors/handler-errors.ts';

/**
 * The subject of a reply to `subject` (the default a handler's result is sent under). It is a
 * naming convention only: a reply is recognised by the conversation that waits for it (same
 * correlation, from the domain asked), whatever its subject; any other `Reply@…` envelope (a
 * wallet's `Reply@Host`) goes to the handlers like every message.
 */
export const replySubject = (subject: string): string => `Reply@${subject}`;
/** Whether `subject` follows the reply naming convention. Not how replies are recognised (see {@link replySubject}). */
export const isReplySubject = (subject: string): boolean => subject.startsWith('Reply@');
export const FEEDBACK_SUBJECT = 'Feedback@Buffer';

/** Normalises a handler result to the reply to send, or undefined for none. */
export function replyOf(result: HandlerResult, requestSubject: string): { subject: string; body: Envelope['Body'] } | undefined {
  if (result === undefined || result === null) return undefined;
  if (typeof result === 'object' && 'reply' in result && typeof result.reply === 'object' && result.reply !== null && !Array.isArray(result.reply)) {
    const reply = result.reply as { subject?: string; body: Envelope['Body'] };
    return { subject: reply.subject ?? replySubject(requestSubject), body: reply.body };
  }
  return { subject: replySubject(requestSubject), body: result as Envelope['Body'] };
}

/** Handlers per local domain and subject. Registered in config (a module path) or through the library API. */
export class HandlerRegistry {
  readonly #byDomain = new Map<string, Map<string, Handler>>();
  readonly #prepare: ((domain: string, subject: string, handler: Handler) => Handler) | undefined;

  /** `prepare` turns each handler into what is called (a batch subject's handler into its batch, see `batch-registration.ts`); it may throw to refuse it. */
  constructor(options: { readonly prepare?: (domain: string, subject: string, handler: Handler) => Handler } = {}) {
    this.#prepare = options.prepare;
  }

  register(domain: string, subject: string, handler: Handler): void {
    const prepared = this.#prepare ? this.#prepare(domain, subject, handler) : handler;
    let subjects = this.#byDomain.get(domain);
    if (!subjects) this.#byDomain.set(domain, (subjects = new Map()));
    subjects.set(subject, prepared);
  }

  registerAll(domain: string, handlers: HandlerMap): void {
    for (const [subject, handler] of Object.entries(handlers)) this.register(domain, subject, handler);
  }

  get(domain: string, subject: string): Handler | undefined {
    return this.#byDomain.get(domain)?.get(subject);
  }
}
