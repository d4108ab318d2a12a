/**
 * Two fixes for the nats.js 3.4 client's hot paths, applied by {@link connectNats} to each
 * connection Mailroom opens, and only to those: the embedding program's own connections (and
 * any other nats.js user in the process) run the client exactly as published. They touch
 * internals, so they are applied only to the nats-core version they were written and tested
 * against (3.4.x); with any other version a connection runs unpatched.
 *
 * 1. **Answered requests build no throw-away error.** Every answered request ends in
 *    `RequestOne.cancel()`, which rejects the request's already-resolved promise with a
 *    fresh `RequestError("cancelled")`. Rejecting a settled promise does nothing, but
 *    building the error captures a stack trace: 3.4 % of the runtime's CPU (every
 *    JetStream publish and KV write is a request). An answered request now skips only that
 *    dead `reject`; it still cancels its timer and leaves the mux as before. Requests that
 *    time out, fail or are cancelled before an answer keep the original behaviour.
 *    Per connection: the connection's request mux gives each `RequestOne` it registers
 *    its own `resolver`/`cancel` (the prototype is untouched).
 *    Upstream: `RequestOne.resolver`/`cancel` in nats.js `core/src/request.ts`
 *    (https://github.com/nats-io/nats.js/blob/main/core/src/request.ts), registered by
 *    `MuxSubscription.add` in `core/src/muxsubscription.ts`.
 * 2. **Outbound commands are written once per event-loop turn.** The client writes its
 *    buffered commands to the socket in a microtask after the first one, so a busy process
 *    makes about one socket write per message it settles (each a syscall that also wakes
 *    nats-server): 9 % of the runtime's CPU. The flush now runs in `setImmediate`, after
 *    the turn's I/O callbacks, so one write carries everything the turn produced. Limits
 *    stay: a buffer past the client's pending limit (32 KiB) is written at once, and
 *    `close()` writes what is buffered before it closes the socket.
 *    Per connection: `flushPending` and `close` are set on the connection's own
 *    `ProtocolHandler` instance. Upstream: `ProtocolHandler.flushPending`/`close` in nats.js
 *    `core/src/protocol.ts` (https://github.com/nats-io/nats.js/blob/main/core/src/protocol.ts).
 *
 * Measured on the envelope path: bench/README.md. No upstream issue tracks either yet.
 *
 * @internal
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { NatsConnection } from '@nats-io/nats-core';
import { ProtocolHandler, RequestOne } from '@nats-io/nats-core/internal';

interface RequestOneInternals {
  answered?: boolean;
  timer?: { cancel(): void };
  mux: { cancel(request: unknown): void };
  resolver(err: Error | null, msg: unknown): void;
  cancel(err?: Error): void;
}

interface MuxInternals {
  add(request: unknown): void;
}

interface ProtocolInternals {
  flushScheduled?: boolean;
  outbound: { size(): number };
  pendingLimit: number;
  flushPending(): void;
  close(err?: Error): Promise<void>;
}

/** Marks a connection's protocol handler as patched. */
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

/** The original methods, from the prototypes (read once; never changed). */
const requestProto = RequestOne.prototype as unknown as RequestOneInternals;
const protocolProto = ProtocolHandler.prototype as unknown as ProtocolInternals;
const originalResolver = requestProto.resolver;
const originalCancel = requestProto.cancel;
const originalFlush = protocolProto.flushPending;
const originalClose = protocolProto.close;

function quietResolver(this: RequestOneInternals, err: Error | null, msg: unknown): void {
  // The original resolver settles the promise, then calls cancel() with no error.
  this.answered = true;
  originalResolver.call(this, err, msg);
}

function quietCancel(this: RequestOneInternals, err?: Error): void {
  if (!this.answered || err) {
    originalCancel.call(this, err);
    return;
  }
  this.timer?.cancel();
  this.mux.cancel(this);
}

function flushOncePerTurn(this: ProtocolInternals): void {
  if (this.outbound.size() >= this.pendingLimit) {
    originalFlush.call(this);
    return;
  }
  if (this.flushScheduled) return;
  this.flushScheduled = true;
  setImmediate(() => {
    this.flushScheduled = false;
    originalFlush.call(this);
  });
}

function flushThenClose(this: ProtocolInternals, err?: Error): Promise<void> {
  originalFlush.call(this);
  return originalClose.call(this, err);
}

let applicable: boolean | undefined;
function patchesApply(): boolean {
  if (applicable !== undefined) return applicable;
  const version = natsCoreVersion();
  applicable =
    version !== undefined &&
    PATCHED_VERSIONS.test(version) &&
    typeof originalResolver === 'function' &&
    typeof originalCancel === 'function' &&
    typeof originalFlush === 'function' &&
    typeof originalClose === 'function';
  return applicable;
}

/**
 * Applies both patches to one connection (idempotent). Returns whether they are in place:
 * false for a nats-core version they were not written for, or a connection without the
 * internals they expect.
 */
export function patchNatsConnection(nc: NatsConnection): boolean {
  const protocol = (nc as unknown as { protocol?: ProtocolInternals & { muxSubscriptions?: MuxInternals; [PATCHED]?: boolean } }).protocol;
  if (!protocol || !patchesApply()) return false;
  if (protocol[PATCHED]) return true;
  const mux = protocol.muxSubscriptions;
  if (!mux || typeof mux.add !== 'function') return false;
  protocol.flushPending = flushOncePerTurn;
  protocol.close = flushThenClose;
  const add = mux.add;
  mux.add = function (this: MuxInternals, request: unknown) {
    if (request instanceof RequestOne) {
      const r = request as unknown as RequestOneInternals;
      r.resolver = quietResolver;
      r.cancel = quietCancel;
    }
    add.call(this, request);
  };
  protocol[PATCHED] = true;
  return true;
}
