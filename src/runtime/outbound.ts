import { createHash } from 'node:crypto';
import type { JetStreamClient } from '@nats-io/jetstream';
import { headers } from '@nats-io/transport-node';
import { encodeEnvelope, signEnvelope, signEnvelopeAsync, type EnvelopeDraft, type EnvelopeSigner } from '../envelope/index.ts';
import type { Envelope } from '../envelope/types.ts';
import type { PrivateKey } from '../keys/index.ts';
import { TransportError } from '../errors.ts';
import { FEEDBACK_SUBJECT } from './handlers.ts';
import { setTraceHeaders, type TraceContext } from './trace-context.ts';

/** A local domain's signing identity. */
export interface DomainIdentity {
  readonly name: string;
  readonly selector: string;
  readonly key: PrivateKey;
}

/** A UUID (version 8, RFC 9562 "custom") derived from text: the same text always gives the same UUID. */
export function deterministicUuid(text: string): string {
  const b = createHash('sha256').update(text).digest().subarray(0, 16);
  b[6] = (b[6]! & 0x0f) | 0x80;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** Why an outbound envelope exists; travels as the `Mailroom-Kind` header. */
export type OutboundKind = 'reply' | 'feedback' | 'send' | 'callback';

/** Publishes signed envelopes to the outbox stream, each under a deterministic message ID. */
export class Outbound {
  constructor(
    private readonly js: JetStreamClient,
    private readonly outboxSubject: (to: string, from: string) => string,
    private readonly publishTimeoutMs = 5_000,
    /** Makes the signatures off the event loop (the crypto pool); without it they are made here. */
    private readonly signer?: EnvelopeSigner,
  ) {}

  /** Signs `draft` as `identity`. */
  async sign(identity: DomainIdentity, draft: EnvelopeDraft): Promise<Envelope> {
    const complete = { ...draft, From: identity.name, Selector: identity.selector };
    return this.signer ? signEnvelopeAsync(complete, identity.key, this.signer) : signEnvelope(complete, identity.key);
  }

  /** Signs `draft` as `identity` and publishes it to the outbox. `msgId` makes a rerun a no-op. */
  async publish(identity: DomainIdentity, draft: EnvelopeDraft, kind: OutboundKind, msgId: string, trace?: TraceContext): Promise<Envelope> {
    const envelope = await this.sign(identity, draft);
    const h = headers();
    h.set('Mailroom-Kind', kind);
    setTraceHeaders(h, trace);
    try {
      await this.js.publish(this.outboxSubject(envelope.Header.To, envelope.Header.From), encodeEnvelope(envelope), {
        msgID: msgId,
        headers: h,
        timeout: this.publishTimeoutMs,
      });
    } catch (cause) {
      throw new TransportError(`could not publish ${kind} to the outbox`, { cause });
    }
    return envelope;
  }

  /**
   * The final status of an envelope, for the completion callback its sender asked for. Goes
   * through the outbox (durable, retried, SSRF-guarded), once per envelope.
   */
  async callback(url: string, status: { from: string; to: string; correlation: string }, body: unknown): Promise<void> {
    const h = headers();
    h.set('Mailroom-Kind', 'callback');
    h.set('Mailroom-Callback', url);
    try {
      await this.js.publish(this.outboxSubject(status.from, status.to), JSON.stringify(body), { msgID: `callback/${status.from}/${status.correlation}`, headers: h, timeout: this.publishTimeoutMs });
    } catch (cause) {
      throw new TransportError('could not publish the callback to the outbox', { cause });
    }
  }

  /** The reply to a handled request: same Correlation as the request, so the requester can match it. */
  reply(identity: DomainIdentity, request: Envelope['Header'], subject: string, body: Envelope['Body'], trace?: TraceContext): Promise<Envelope> {
    return this.publish(
      identity,
      { To: request.From, Subject: subject, Body: body, Correlation: request.Correlation },
      'reply',
      `reply/${request.From}/${request.Correlation}`,
      trace,
    );
  }

  /** One `Feedback@Buffer` envelope about a discarded envelope, to the sender's buffer domain. */
  feedback(identity: DomainIdentity, buffer: string, discarded: Pick<Envelope['Header'], 'From' | 'Correlation'>, reason: string, trace?: TraceContext): Promise<Envelope> {
    const key = `feedback/${discarded.From}/${discarded.Correlation}`;
    return this.publish(
      identity,
      {
        To: buffer,
        Subject: FEEDBACK_SUBJECT,
        Correlation: deterministicUuid(key),
        Body: { Sender: discarded.From, Correlation: discarded.Correlation, Status: 'Discarded', Reason: reason },
      },
      'feedback',
      key,
      trace,
    );
  }
}

const humanReasons: Record<string, string> = {
  'unsupported-schema': 'Unsupported schema version.',
  malformed: 'Malformed envelope.',
  'not-addressed-to-us': 'Not addressed to this domain.',
  'stale-timestamp': 'Timestamp too old.',
  'future-timestamp': 'Timestamp in the future.',
  'duplicate-correlation': 'Duplicate correlation.',
  'key-not-found': 'Sender key not found.',
  'hash-mismatch': 'Hash mismatch.',
  'bad-signature': 'Invalid signature.',
  'unknown-subject': 'Unknown subject.',
};

/** The human-readable Reason a feedback carries, e.g. `Invalid signature.` */
export function humanReason(reason: string, detail?: string): string {
  return humanReasons[reason] ?? (detail ? `${detail}` : `Discarded: ${reason}.`);
}
