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
 */
export function callHandler(
  handler: Handler,
  context: Omit<HandlerContext, 'signal'>,
  options: { readonly timeoutMs: number; readonly stop?: AbortSignal },
): Promise<HandlerResult> {
  const controller = new AbortController();
  return new Promise<HandlerResult>((resolve, reject) => {
    let open = true;
    const close = (): boolean => {
      if (!open) return false;
      open = false;
      clearTimeout(timer);
      options.stop?.removeEventListener('abort', onStop);
      return true;
    };
    const onStop = (): void => {
      if (close()) controller.abort(new HandlerStoppedError(context.subject));
    };
    const timer = setTimeout(() => {
      if (!close()) return;
      const error = new HandlerTimeoutError(context.subject, options.timeoutMs);
      controller.abort(error);
      reject(error);
    }, options.timeoutMs);
    if (options.stop?.aborted) {
      onStop();
      return;
    }
    options.stop?.addEventListener('abort', onStop, { once: true });
    // A handler that throws before its first await fails the same way as one that rejects.
    new Promise<HandlerResult>((run) => run(handler({ ...context, signal: controller.signal }))).then(
      (result) => {
        if (close()) resolve(result);
      },
      (error: unknown) => {
        if (close()) reject(error);
      },
    );
  });
}
