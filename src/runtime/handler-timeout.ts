import { HANDLER_TIMEOUT, HandlerStoppedError, HandlerTimeoutError } from '../errors/handler-errors.ts';
import type { Handler, HandlerContext, HandlerResult } from './handlers.ts';

export { HANDLER_TIMEOUT, HandlerTimeoutError, HandlerStoppedError };

/** How long the handler of a subject may run: the subject's own `handlerTimeoutMs`, else the default. */
export function handlerTimeoutFor(
  delivery: { readonly handlerTimeoutMs?: number; readonly subjects?: Readonly<Record<string, { readonly handlerTimeoutMs?: number }>> },
  subject: string,
): number {
  return delivery.subjects?.[subject]?.handlerTimeoutMs ?? delivery.handlerTimeoutMs ?? DEFAULT_HANDLER_TIMEOUT_MS;
}

export const DEFAULT_HANDLER_TIMEOUT_MS = 30_000;

/**
 * Calls `handler` with an `AbortSignal` in its context, and bounds it:
 *
 * - it finishes within `timeoutMs`: its result (or rejection) is the result;
 * - it does not: the signal is aborted with a {@link HandlerTimeoutError} and the returned
 *   promise rejects with it; whatever the handler returns later is ignored;
 * - `stop` aborts first (the runtime gave up on the message at stop, and has handed it
 *   back): the signal is aborted with a {@link HandlerStoppedError} and the returned
 *   promise never settles, so the envelope actor takes no further step for a message
 *   another process now owns.
 *
 * The signal is made when the handler first reads it (most never do; an `AbortController`
 * costs microseconds); read after the call was given up on, it is already aborted with the
 * reason. `signal` is an own, enumerable accessor, so `{ ...context }` and `{ signal }` read it
 * like any field. `stop` may be shared by every message of a loop: the calls under one stop
 * signal share one listener.
 */
export function callHandler(
  handler: Handler,
  context: Omit<HandlerContext, 'signal'>,
  options: { readonly timeoutMs: number; readonly stop?: AbortSignal },
): Promise<HandlerResult> {
  return HandlerCall.start(handler, context, options);
}

/**
 * One handler call: the context the handler sees (its signal made on first read), and, in
 * private fields, the call's bounds. The handler sees the context's fields and `signal` only.
 */
class HandlerCall implements HandlerContext {
  /** The calls running under each stop signal: aborting it stops them all, through one listener. */
  static readonly #byStop = new WeakMap<AbortSignal, Set<HandlerCall>>();

  readonly envelope: HandlerContext['envelope'];
  readonly from: string;
  readonly to: string;
  readonly subject: string;
  readonly correlation: string;
  readonly body: HandlerContext['body'];
  readonly attempt: number;
  readonly verified: boolean;
  readonly #timeoutMs: number;
  #controller: AbortController | undefined;
  /** Why the call was given up on (timed out, stopped): the signal's reason, also when it is made later. */
  #abortedWith: Error | undefined;
  #open = true;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #calls: Set<HandlerCall> | undefined;
  #resolve: ((result: HandlerResult) => void) | undefined;
  #reject: ((error: unknown) => void) | undefined;

  static start(handler: Handler, context: Omit<HandlerContext, 'signal'>, options: { readonly timeoutMs: number; readonly stop?: AbortSignal }): Promise<HandlerResult> {
    const call = new HandlerCall(context, options.timeoutMs);
    return new Promise<HandlerResult>((resolve, reject) => call.#run(handler, options.stop, resolve, reject));
  }

  static #timeUp(this: void, call: HandlerCall): void {
    call.#timedOut();
  }

  static #callsUnder(stop: AbortSignal): Set<HandlerCall> {
    let calls = HandlerCall.#byStop.get(stop);
    if (!calls) {
      const running = new Set<HandlerCall>();
      calls = running;
      HandlerCall.#byStop.set(stop, running);
      stop.addEventListener(
        'abort',
        () => {
          for (const call of running) call.#stopped();
          running.clear();
        },
        { once: true },
      );
    }
    return calls;
  }

  private constructor(context: Omit<HandlerContext, 'signal'>, timeoutMs: number) {
    this.envelope = context.envelope;
    this.from = context.from;
    this.to = context.to;
    this.subject = context.subject;
    this.correlation = context.correlation;
    this.body = context.body;
    this.attempt = context.attempt;
    this.verified = context.verified;
    this.#timeoutMs = timeoutMs;
    Object.defineProperty(this, 'signal', HandlerCall.#signalProperty);
  }

  /** The context's `signal`: made on first read (see {@link callHandler}). */
  declare readonly signal: AbortSignal;

  /** `signal` as an own enumerable property of each context, so a spread of the context keeps it; one descriptor for all. */
  static readonly #signalProperty: PropertyDescriptor = {
    enumerable: true,
    get(this: HandlerCall): AbortSignal {
      return this.#signalNow();
    },
  };

  #signalNow(): AbortSignal {
    if (!this.#controller) {
      this.#controller = new AbortController();
      if (this.#abortedWith) this.#controller.abort(this.#abortedWith);
    }
    return this.#controller.signal;
  }

  #run(handler: Handler, stop: AbortSignal | undefined, resolve: (result: HandlerResult) => void, reject: (error: unknown) => void): void {
    if (stop?.aborted) {
      this.#stopped();
      return;
    }
    this.#resolve = resolve;
    this.#reject = reject;
    this.#timer = setTimeout(HandlerCall.#timeUp, this.#timeoutMs, this);
    if (stop) (this.#calls = HandlerCall.#callsUnder(stop)).add(this);
    let result: HandlerResult | Promise<HandlerResult>;
    try {
      result = handler(this);
    } catch (error) {
      // A handler that throws before its first await fails the same way as one that rejects.
      if (this.#close()) reject(error);
      return;
    }
    Promise.resolve(result).then(
      (value) => {
        if (this.#close()) this.#resolve?.(value);
      },
      (error: unknown) => {
        if (this.#close()) this.#reject?.(error);
      },
    );
  }

  #timedOut(): void {
    if (!this.#close()) return;
    const error = new HandlerTimeoutError(this.subject, this.#timeoutMs);
    this.#abort(error);
    this.#reject?.(error);
  }

  #stopped(): void {
    if (this.#close()) this.#abort(new HandlerStoppedError(this.subject));
  }

  #abort(reason: Error): void {
    this.#abortedWith = reason;
    this.#controller?.abort(reason);
  }

  #close(): boolean {
    if (!this.#open) return false;
    this.#open = false;
    clearTimeout(this.#timer);
    this.#calls?.delete(this);
    return true;
  }
}
