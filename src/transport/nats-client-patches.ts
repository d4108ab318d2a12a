/**
 * Two fixes for the nats.js 3.4 client's hot paths, applied once by {@link connectNats},
 * each measured on the envelope path (bench/README.md). They touch internals, so they are
 * applied only to the nats-core version they were written and tested against (3.4.x);
 * any other version runs unpatched, exactly as published.
 *
 * 1. **Answered requests build no throw-away error.** Every answered request ends in
 *    `RequestOne.cancel()`, which rejects the request's already-resolved promise with a
 *    fresh `RequestError("cancelled")`. Rejecting a settled promise does nothing, but
 *    building the error captures a stack trace: 3.4 % of the runtime's CPU (every
 *    JetStream publish and KV write is a request). An answered request now skips only that
 *    dead `reject`; it still cancels its timer and leaves the mux as before. Requests that
 *    time out, fail or are cancelled before an answer keep the original behaviour.
 * 2. **Outbound commands are written once per event-loop turn.** The client writes its
 *    buffered commands to the socket in a microtask after the first one, so a busy process
 *    makes about one socket write per message it settles (each a syscall that also wakes
 *    nats-server): 9 % of the runtime's CPU. The flush now runs in `setImmediate`, after
 *    the turn's I/O callbacks, so one write carries everything the turn produced. Limits
 *    stay: a buffer past the client's pending limit (32 KiB) is written at once, and
 *    `close()` writes what is buffered before it closes the socket.
 *
 * @internal
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { ProtocolHandler, RequestOne } from '@nats-io/nats-core/internal';

interface RequestOneInternals {
  answered?: boolean;
  timer?: { cancel(): void };
  mux: { cancel(request: unknown): void };
  resolver(err: Error | null, msg: unknown): void;
  cancel(err?: Error): void;
}

interface ProtocolInternals {
  flushScheduled?: boolean;
  outbound: { size(): number };
  pendingLimit: number;
  flushPending(): void;
  close(err?: Error): Promise<void>;
}

const PATCHED = Symbol.for('mailroom.natsClientPatches');
/** The nats-core versions these patches were read against and tested with. */
const PATCHED_VERSIONS = /^3\.4\./;

function natsCoreVersion(): string | undefined {
  try {
    const main = createRequire(import.meta.url).resolve('@nats-io/nats-core');
    const manifest = JSON.parse(readFileSync(join(dirname(main), '..', 'package.json'), 'utf8')) as { version?: unknown };
    return typeof manifest.version === 'string' ? manifest.version : undefined;
  } catch {
    return undefined;
  }
}

function quietRequestCancel(proto: RequestOneInternals): void {
  const resolver = proto.resolver;
  const cancel = proto.cancel;
  proto.resolver = function (this: RequestOneInternals, err, msg) {
    // The original resolver settles the promise, then calls cancel() with no error.
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
}

function flushOncePerTurn(proto: ProtocolInternals): void {
  const flushNow = proto.flushPending;
  const close = proto.close;
  proto.flushPending = function (this: ProtocolInternals) {
    if (this.outbound.size() >= this.pendingLimit) {
      flushNow.call(this);
      return;
    }
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      flushNow.call(this);
    });
  };
  proto.close = function (this: ProtocolInternals, err) {
    flushNow.call(this);
    return close.call(this, err);
  };
}

/**
 * Applies both patches once (idempotent, also across copies of this module). Returns
 * whether they are in place: false for a nats-core version they were not written for.
 */
export function patchNatsClient(): boolean {
  const request = RequestOne.prototype as unknown as RequestOneInternals & { [PATCHED]?: boolean };
  const protocol = ProtocolHandler.prototype as unknown as ProtocolInternals & { [PATCHED]?: boolean };
  if (request[PATCHED] !== undefined) return request[PATCHED];
  const version = natsCoreVersion();
  const applicable =
    version !== undefined &&
    PATCHED_VERSIONS.test(version) &&
    typeof request.resolver === 'function' &&
    typeof request.cancel === 'function' &&
    typeof protocol.flushPending === 'function' &&
    typeof protocol.close === 'function';
  if (applicable) {
    quietRequestCancel(request);
    flushOncePerTurn(protocol);
  }
  request[PATCHED] = applicable;
  protocol[PATCHED] = applicable;
  return applicable;
}
