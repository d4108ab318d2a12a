import type { Consumer, JetStreamClient, JsMsg } from '@nats-io/jetstream';
import { CALLBACK_HEADER, KIND_HEADER, MSG_ID_HEADER, type Names } from '../transport/names.ts';
import type { DeadLetters } from './dead-letters.ts';
import { ACK, settle } from './disposition.ts';
import { nextAttempt, retryDisposition, type RetryPolicy } from './retry-policy.ts';
import { headers } from '@nats-io/transport-node';
import { startConsumeLoop } from './consume-loop.ts';
import { outboxLogFields, setTraceHeaders, traceFromHeaders, type OutboxLogFields } from './trace-context.ts';
import { postEnvelope, type DeliveryResult } from './http-delivery.ts';

export interface OutboxWorkerDeps {
  readonly consumer: Consumer;
  readonly js: JetStreamClient;
  readonly names: Names;
  /** The inbox subject of an envelope for a local domain (the shared inbox, or its ordered partition). */
  readonly inboxSubjectFor: (header: { From: string; To: string; Subject?: string }) => string;
  readonly isLocalDomain: (domain: string) => boolean;
  readonly inboxUrlFor: (domain: string) => { url: string; source: 'directory' | 'convention' } | undefined;
  readonly allowPrivateNetworks: boolean;
  readonly maxAttempts: number;
  readonly retry: { initialDelayMs: number; maxDelayMs: number; multiplier: number };
  readonly deadLetters: DeadLetters;
  readonly concurrency: number;
  readonly timeoutMs?: number;
  /** The longest `stop()` waits for the deliveries running (default: until they are done); then their messages are naked. */
  readonly stopGraceMs?: number;
  readonly onDelivered?: (info: { to: string; from: string; local: boolean; status?: number } & OutboxLogFields) => void;
  readonly onError?: (error: unknown, context: string) => void;
}

export interface OutboxWorker {
  stop(): Promise<void>;
}

/**
 * Delivers what the outbox holds. A domain hosted here gets the envelope straight into its
 * inbox stream (deduplicated by `From/Correlation/Hash/…`, see `names.inboxMsgId`); a remote
 * domain gets an HTTP POST with `Idempotency-Key: <the outbox message ID>`,
 * retried with backoff (nak with delay: durable), and a dead letter after the last attempt.
 */
export function startOutboxWorker(deps: OutboxWorkerDeps): Promise<OutboxWorker> {
  const policy: RetryPolicy = { maxAttempts: deps.maxAttempts, ...deps.retry };
  const deliver = async (msg: JsMsg): Promise<DeliveryResult> => {
    const parsed = deps.names.parseSubject(msg.subject);
    if (!parsed) return { ok: false, retryable: false, detail: `not an outbox subject: ${msg.subject}` };
    // The outbox message's own deterministic ID (`reply/<from>/<correlation>`, ...): the same on every retry.
    const msgId = msg.headers?.get(MSG_ID_HEADER) || undefined;
    const post = { timeoutMs: deps.timeoutMs ?? 10_000, ...(msgId ? { idempotencyKey: msgId } : {}) };
    const callback = msg.headers?.get(KIND_HEADER) === 'callback' ? msg.headers.get(CALLBACK_HEADER) : undefined;
    // A callback URL comes from the sender of an envelope: always behind the SSRF guard.
    if (callback) return postEnvelope(callback, msg.string(), { ...post, guard: !deps.allowPrivateNetworks });
    if (deps.isLocalDomain(parsed.to)) {
      const envelope = JSON.parse(msg.string()) as { Header: { From: string; To: string; Subject: string; Correlation: string }; Hash: string; Signature: string };
      const { Header: header } = envelope;
      const h = headers();
      setTraceHeaders(h, traceFromHeaders(msg.headers));
      await deps.js.publish(deps.inboxSubjectFor(header), msg.data, { msgID: deps.names.inboxMsgId(header.From, header.Correlation, envelope.Hash, envelope.Signature), headers: h });
      return { ok: true, status: 202 };
    }
    const target = deps.inboxUrlFor(parsed.to);
    if (!target) return { ok: false, retryable: false, detail: `${parsed.to} has no inbox URL (not a domain name, and not in the directory)` };
    return postEnvelope(target.url, msg.string(), { ...post, guard: target.source === 'convention' && !deps.allowPrivateNetworks });
  };

  const handle = async (msg: JsMsg): Promise<void> => {
    const attempt = msg.info.deliveryCount;
    let result: DeliveryResult;
    try {
      result = await deliver(msg);
    } catch (error) {
      result = { ok: false, retryable: true, detail: error instanceof Error ? error.message : String(error) };
    }
    if (result.ok) {
      settle(msg, ACK);
      const parsed = deps.names.parseSubject(msg.subject);
      if (parsed) deps.onDelivered?.({ to: parsed.to, from: parsed.from, local: deps.isLocalDomain(parsed.to), status: result.status, ...outboxLogFields(msg.headers) });
      return;
    }
    const decision = nextAttempt(policy, attempt, { final: !result.retryable });
    if (decision.kind === 'retry') {
      settle(msg, retryDisposition(decision));
      return;
    }
    await deps.deadLetters.publish(msg, { reason: decision.reason, lastState: 'delivering', detail: result.detail }, []);
    settle(msg, ACK);
  };

  const loopOptions = deps.stopGraceMs !== undefined ? { stopGraceMs: deps.stopGraceMs } : {};
  return startConsumeLoop(deps.consumer, deps.concurrency, handle, (error, context) => deps.onError?.(error, `outbox: ${context}`), loopOptions);
}
