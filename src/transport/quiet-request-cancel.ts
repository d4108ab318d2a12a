/**
 * A fix for nats.js 3.4's request path, applied once by {@link connectNats}.
 *
 * Every answered request ends in `RequestOne.cancel()`, which rejects the request's
 * already-resolved promise with a fresh `RequestError("cancelled")`. Rejecting a settled
 * promise does nothing, but building the error captures a stack trace: measured at 3.4 %
 * of the runtime's CPU on the envelope path (every JetStream publish and KV write is a
 * request). Here an answered request skips only that dead `reject`; it still cancels its
 * timer and leaves the mux exactly as before. Requests that time out, fail or are
 * cancelled before an answer keep the original behaviour and error.
 *
 * @internal
 */
import { RequestOne } from '@nats-io/nats-core/internal';

interface RequestOneInternals {
  answered?: boolean;
  timer?: { cancel(): void };
  mux: { cancel(request: unknown): void };
  resolver(err: Error | null, msg: unknown): void;
  cancel(err?: Error): void;
}

const PATCHED = Symbol.for('mailroom.quietRequestCancel');

/** True once the patch is in place (idempotent; safe with several copies of this module). */
export function quietRequestCancel(): boolean {
  const proto = RequestOne.prototype as unknown as RequestOneInternals & { [PATCHED]?: true };
  if (proto[PATCHED]) return true;
  if (typeof proto.resolver !== 'function' || typeof proto.cancel !== 'function') return false;
  const resolver = proto.resolver;
  const cancel = proto.cancel;
  proto.resolver = function (this: RequestOneInternals, err, msg) {
    // The promise is settled by the original resolver, which then calls cancel() with no error.
    this.answered = true;
    resolver.call(this, err, msg);
  };
  proto.cancel = function (this: RequestOneInternals, err) {
    if (!this.answered || err) {
      cancel.call(this, err);
      return;
    }
    this.timer?.cancel();
    this.mux.cancel(this);
  };
  proto[PATCHED] = true;
  return true;
}
