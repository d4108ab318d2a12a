import { createHash } from 'node:crypto';
import type { JetStreamClient } from '@nats-io/jetstream';
import { headers } from '@nats-io/transport-node';
import { encodeEnvelope, signEnvelope, signEnvelopeAsync, type EnvelopeDraft, type EnvelopeSigner } from '../envelope/index.ts';
import type { CanonicalPolicy } from '../envelope/canonical-policy.ts';
import type { Envelope } from '../envelope/types.ts';
import type { KV } from '@nats-io/kv';
import type { PrivateKey } from '../keys/index.ts';
import { TransportError } from '../errors.ts';
import { CALLBACK_HEADER, KIND_HEADER, messageIds } from '../transport/names.ts';
import { liveEntry } from '../transport/kv-entries.ts';
import { isAlreadyExists } from './status-store.ts';
import { FEEDBACK_SUBJECT } from './handlers.ts';
import { setTraceHeaders, type TraceContext } from './trace-context.ts';
import { withinDeadline, type StoreRetry } from './within-deadline.ts';

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

function encodeBytes(envelope: Envelope): Uint8Array {
  return Buffer.from(encodeEnvelope(envelope));
}

const utf8 = new TextDecoder();

/** The envelope of recorded bytes (ours, signed by an earlier attempt), read without copying them first. */
function decodeRecorded(bytes: Uint8Array): Envelope {
  return JSON.parse(utf8.decode(bytes)) as Envelope;
}

/** Why an outbound envelope exists; travels as the `Mailroom-Kind` header. */
export type OutboundKind = 'reply' | 'feedback' | 'send' | 'callback';

/**
 * The durable record of every signed outbound envelope, by its deterministic message ID, in the
 * KV bucket `mailroom-outbound` (TTL = the replay window). The first signature made for an ID is
 * stored (KV create: one writer wins); every later attempt for that ID publishes the stored bytes,
 * so a retry, a redelivery or a rerun in another process sends a byte-identical envelope under the
 * same `Nats-Msg-Id` and never a second signature. Needed because the outbox stream's own dedupe
 * does not hold: a work-queue stream forgets consumed messages' IDs across a nats-server restart.
 */
export class OutboundClaims {
  constructor(
    private readonly kv: KV,
    private readonly keyOf: (msgId: string) => string,
    private readonly retry: StoreRetry = {},
  ) {}

  /**
   * The signed bytes for `msgId`: the stored ones, or `sign()`'s, stored first. `mayExist`
   * (a redelivery, a re-posted or replayed envelope) reads the store before signing; on the
   * usual first attempt the signature is made and stored with one KV create, and only a lost
   * create (another attempt got there first) reads the winner's bytes.
   */
  async once(msgId: string, sign: () => Promise<Uint8Array>, mayExist: boolean): Promise<{ bytes: Uint8Array; reused: boolean }> {
    const key = this.keyOf(msgId);
    if (mayExist) {
      const stored = await this.stored(key);
      if (stored) return { bytes: stored, reused: true };
    }
    const bytes = await sign();
    // A create tried again after its answer was lost finds its own bytes: `reused`, the same bytes.
    return withinDeadline(async () => {
      try {
        await this.kv.create(key, bytes);
        return { bytes, reused: false };
      } catch (error) {
        if (!isAlreadyExists(error)) throw error;
        const stored = liveEntry(await this.kv.get(key))?.value;
        if (!stored) throw new TransportError(`the outbound record ${msgId} exists but could not be read`, { cause: error });
        return { bytes: stored, reused: true };
      }
    }, this.retry);
  }

  private async stored(key: string): Promise<Uint8Array | undefined> {
    return withinDeadline(async () => liveEntry(await this.kv.get(key))?.value, this.retry);
  }
}

/** How {@link Outbound.publish} may find an earlier attempt: `mayExist` reads the outbound record before signing. */
export interface PublishOptions {
  readonly trace?: TraceContext;
  readonly mayExist?: boolean;
  /** False for an ID that is fresh by construction (a random correlation): no outbound record. Default true. */
  readonly claim?: boolean;
}

/** Publishes signed envelopes to the outbox stream, each under a deterministic message ID, each signed once. */
export class Outbound {
  constructor(
    private readonly js: JetStreamClient,
    private readonly outboxSubject: (to: string, from: string) => string,
    private readonly publishTimeoutMs = 5_000,
    /** Makes the signatures off the event loop (the crypto pool); without it they are made here. */
    private readonly signer?: EnvelopeSigner,
    /** The durable outbound records; without them a rerun signs again (tests of other parts only). */
    private readonly claims?: OutboundClaims,
    /** The canonical form per receiving domain (`directory` entries); without it, JCS. */
    private readonly canonical?: CanonicalPolicy,
    /** How a publish rides out a leader election: tried again with the same `Nats-Msg-Id`, so a stored try makes the next a duplicate. */
    private readonly retry: StoreRetry = {},
  ) {}

  /** Publishes to the outbox, tried again within the deadline under the same `Nats-Msg-Id`. */
  private async toOutbox(subject: string, data: Uint8Array | string, msgID: string, h: ReturnType<typeof headers>, what: string): Promise<void> {
    try {
      await withinDeadline((timeout) => this.js.publish(subject, data, { msgID, headers: h, timeout: Math.min(timeout, this.publishTimeoutMs) }), { timeoutMs: this.publishTimeoutMs, ...this.retry });
    } catch (cause) {
      throw new TransportError(`could not publish ${what} to the outbox`, { cause });
    }
  }

  /** Signs `draft` as `identity`, in the canonical form its receiver verifies. */
  async sign(identity: DomainIdentity, draft: EnvelopeDraft): Promise<Envelope> {
    const complete = { ...draft, From: identity.name, Selector: identity.selector };
    const options = { canonical: this.canonical?.formFor(draft.To, draft.Body) ?? 'jcs' };
    return this.signer ? signEnvelopeAsync(complete, identity.key, this.signer, options) : signEnvelope(complete, identity.key, options);
  }

  /**
   * The signed bytes of `draft` as `identity` for `msgId`: signed and recorded on the first
   * attempt, the recorded bytes on any later one. For a send held back (store and forward).
   */
  async signOnce(identity: DomainIdentity, draft: EnvelopeDraft, msgId: string, options: PublishOptions = {}): Promise<{ envelope: Envelope; bytes: Uint8Array }> {
    let signed: Envelope | undefined;
    const sign = async () => encodeBytes((signed = await this.sign(identity, draft)));
    if (!this.claims || options.claim === false) {
      const bytes = await sign();
      return { envelope: signed!, bytes };
    }
    const { bytes, reused } = await this.claims.once(msgId, sign, options.mayExist ?? false);
    return { envelope: reused || !signed ? decodeRecorded(bytes) : signed, bytes };
  }

  /** Signs `draft` as `identity` (once per `msgId`, see {@link OutboundClaims}) and publishes it to the outbox. */
  async publish(identity: DomainIdentity, draft: EnvelopeDraft, kind: OutboundKind, msgId: string, options: PublishOptions = {}): Promise<Envelope> {
    const { envelope, bytes } = await this.signOnce(identity, draft, msgId, options);
    const h = headers();
    h.set(KIND_HEADER, kind);
    setTraceHeaders(h, options.trace);
    await this.toOutbox(this.outboxSubject(envelope.Header.To, envelope.Header.From), bytes, msgId, h, kind);
    return envelope;
  }

  /**
   * The final status of an envelope, for the completion callback its sender asked for. Goes
   * through the outbox (durable, retried, SSRF-guarded), once per envelope.
   */
  async callback(url: string, status: { from: string; to: string; correlation: string; hash?: string }, body: unknown): Promise<void> {
    const h = headers();
    h.set(KIND_HEADER, 'callback');
    h.set(CALLBACK_HEADER, url);
    await this.toOutbox(this.outboxSubject(status.from, status.to), JSON.stringify(body), messageIds.callback(status.from, status.correlation, status.hash), h, 'the callback');
  }

  /** The reply to a handled request: same Correlation as the request, so the requester can match it. */
  reply(identity: DomainIdentity, request: Envelope['Header'], subject: string, body: Envelope['Body'], options: PublishOptions = {}): Promise<Envelope> {
    return this.publish(
      identity,
      { To: request.From, Subject: subject, Body: body, Correlation: request.Correlation },
      'reply',
      messageIds.reply(request.From, request.Correlation),
      options,
    );
  }

  /**
   * One `Feedback@Buffer` envelope about a discarded envelope, to the sender's buffer domain.
   * Keyed by the discarded envelope's Hash too: feedback about a forged copy must not take the
   * place of the feedback about the genuine envelope with the same correlation.
   */
  feedback(identity: DomainIdentity, buffer: string, discarded: Pick<Envelope['Header'], 'From' | 'Correlation'> & { readonly Hash: string }, reason: string, options: PublishOptions = {}): Promise<Envelope> {
    const key = messageIds.feedback(discarded.From, discarded.Correlation, discarded.Hash);
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
      options,
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
  'correlation-reused': 'Correlation reused by a different envelope.',
  'key-not-found': 'Sender key not found.',
  'hash-mismatch': 'Hash mismatch.',
  'bad-signature': 'Invalid signature.',
  'unknown-subject': 'Unknown subject.',
};

/** The human-readable Reason a feedback carries, e.g. `Invalid signature.` */
export function humanReason(reason: string, detail?: string): string {
  return humanReasons[reason] ?? (detail ? `${detail}` : `Discarded: ${reason}.`);
}
