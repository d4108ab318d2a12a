/**
 * The one module that builds subject, stream, consumer, KV bucket and KV key names, and
 * (through the two modules it re-exports) message IDs, headers, advisory subjects and queue
 * groups. Nothing else in Mailroom concatenates a NATS name by hand.
 *
 * Two reversible encodings are used, each with exactly one spelling per value
 * (decoding rejects anything the encoder would not have produced):
 *
 * - subject tokens ({@link encodeToken}): a NATS subject token may not be empty or
 *   contain `.`, `*`, `>` or whitespace. Those characters, `%`, control characters and
 *   Unicode whitespace are percent-encoded as UTF-8 (`orders.example` →
 *   `orders%2Eexample`); everything else, including non-ASCII, is kept as it is.
 * - KV key tokens ({@link encodeKeyToken}): KV keys allow only `[-/_=.a-zA-Z0-9]`, and
 *   `.` separates tokens. Letters, digits, `-` and `_` are kept; every other character
 *   becomes `=` and two upper-case hex digits per UTF-8 byte (`orders.example` →
 *   `orders=2Eexample`). A UUID correlation stays as it is.
 */
import { createHash } from 'node:crypto';
import { InvalidNameError } from '../errors/transport-errors.ts';

/** 128 bits of SHA-256, base64url: a short, collision-resistant stand-in for a long value in an ID. */
function fingerprint(value: string): string {
  return createHash('sha256').update(value).digest().subarray(0, 16).toString('base64url');
}

export { InvalidNameError };
export { messageIds, CONNECTION_NAMES, POISON_QUEUE_GROUP, maxDeliveriesAdvisorySubject, kvStreamName } from './message-ids.ts';
export * from './message-headers.ts';

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
// `%`, the subject separators and wildcards, C0 controls, space, DEL, C1 controls and
// every Unicode white space (NBSP, U+2028, ...).
// eslint-disable-next-line no-control-regex -- control characters are what must be escaped
const TOKEN_ESCAPED = /[%.*>\u0000-\u0020\u007F-\u009F\s]/gu;
/** Every code point a KV key token escapes (a full code point each, with the u flag). */
const KEY_ESCAPED = /[^A-Za-z0-9_-]/gu;

const utf8 = new TextEncoder();

const HEX = Array.from({ length: 256 }, (_, byte) => byte.toString(16).toUpperCase().padStart(2, '0'));

function hexBytes(char: string, escape: string): string {
  const code = char.charCodeAt(0);
  // The usual case (`.` in a domain name): one ASCII byte, no encoder.
  if (char.length === 1 && code < 0x80) return escape + HEX[code]!;
  let out = '';
  for (const byte of utf8.encode(char)) out += escape + HEX[byte]!;
  return out;
}

/**
 * Domain names recur on every envelope (in its subjects and KV keys): their tokens are kept
 * in a small map, emptied when full. Correlations, unique per envelope, are not cached.
 */
function memo(encode: (value: string) => string): (value: string) => string {
  const cache = new Map<string, string>();
  return (value) => {
    let token = cache.get(value);
    if (token === undefined) {
      token = encode(value);
      if (cache.size >= 1024) cache.clear();
      cache.set(value, token);
    }
    return token;
  };
}

function checkEncodable(value: string, what: string): void {
  if (value.length === 0) throw new InvalidNameError(`${what}: cannot encode an empty string`, value);
  if (LONE_SURROGATE.test(value)) throw new InvalidNameError(`${what}: string is not well-formed UTF-16`, value);
}

/** Decodes `%XX` (or `=XX`) runs, then checks the result re-encodes to the same text. */
function decodeEscapes(encoded: string, escape: '%' | '=', encode: (value: string) => string, what: string): string {
  if (encoded.length === 0) throw new InvalidNameError(`${what}: empty token`, encoded);
  const pattern = escape === '%' ? /(?:%[0-9A-F]{2})+/g : /(?:=[0-9A-F]{2})+/g;
  let decoded: string;
  try {
    decoded = encoded.replace(pattern, (run) => {
      const bytes = Uint8Array.from(run.slice(1).split(escape), (hex) => parseInt(hex, 16));
      return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
    });
  } catch (cause) {
    throw new InvalidNameError(`${what}: invalid UTF-8 escape in ${JSON.stringify(encoded)}`, encoded, { cause });
  }
  if (decoded.length === 0 || encode(decoded) !== encoded) {
    throw new InvalidNameError(`${what}: ${JSON.stringify(encoded)} is not a canonical encoded token`, encoded);
  }
  return decoded;
}

/** Encodes a domain, UUID or `Anonymous` as one NATS subject token. */
export function encodeToken(value: string): string {
  checkEncodable(value, 'subject token');
  return value.replace(TOKEN_ESCAPED, (char) => hexBytes(char, '%'));
}

/** Reverses {@link encodeToken}; throws {@link InvalidNameError} on anything it would not produce. */
export function decodeToken(token: string): string {
  return decodeEscapes(token, '%', encodeToken, 'subject token');
}

/** Encodes any string as one KV key token (`[-_=a-zA-Z0-9]+`). */
export function encodeKeyToken(value: string): string {
  checkEncodable(value, 'KV key token');
  // One replace, not `out += char` in a loop: that builds a V8 rope, which stays ~0.85 KB per
  // key when the key is kept (a waiting conversation's) instead of being flattened.
  return value.replace(KEY_ESCAPED, (char) => hexBytes(char, '='));
}

/** Reverses {@link encodeKeyToken}; throws {@link InvalidNameError} on anything it would not produce. */
export function decodeKeyToken(token: string): string {
  return decodeEscapes(token, '=', encodeKeyToken, 'KV key token');
}

/** Which kind of envelope stream a subject belongs to: the inbox, the outbox, the dead letters, or an ordered inbox partition. */
export type StreamKind = 'inbox' | 'outbox' | 'dlq' | 'ordered';

/**
 * The subscriptions bucket key of `(topic, domain)`: `<topic>.<domain>`, both KV-encoded. Not
 * per prefix (the bucket is).
 */
export const subscriptionKey = (topic: string, domain: string): string => `${encodeKeyToken(topic)}.${encodeKeyToken(domain)}`;
/** The KV filter of every subscription to `topic`. */
export const subscriptionFilter = (topic: string): string => `${encodeKeyToken(topic)}.*`;
/** The subscribed domain of a subscriptions bucket key (reverses {@link subscriptionKey}). */
export const subscriberOfKey = (key: string): string => decodeKeyToken(key.slice(key.indexOf('.') + 1));

/** The addressing part of a Mailroom message subject. */
export interface ParsedSubject {
  readonly kind: StreamKind;
  readonly to: string;
  readonly from: string;
}

/** The key of one envelope in the status (or replay) bucket. */
export interface ParsedKey {
  readonly from: string;
  readonly correlation: string;
}

/** Every NATS name one Mailroom runtime uses, for one prefix. Its functions use no `this`: pass them around freely. */
export interface Names {
  /** The lower-case prefix, e.g. `mailroom`. */
  readonly prefix: string;
  /** Stream names: `MAILROOM_INBOX`, `MAILROOM_OUTBOX`, `MAILROOM_DLQ`, `MAILROOM_TIMERS`, `MAILROOM_TASKS`. */
  readonly streams: { readonly inbox: string; readonly outbox: string; readonly dlq: string; readonly timers: string; readonly tasks: string };
  /** The subject filter each stream captures: `mailroom.inbox.>` and so on. */
  readonly streamSubjects: { readonly inbox: string; readonly outbox: string; readonly dlq: string; readonly timers: string; readonly tasks: string };
  /** Durable pull consumer names: `mailroom-inbox`, `mailroom-outbox`, `mailroom-timers`, `mailroom-tasks`. */
  readonly consumers: { readonly inbox: string; readonly outbox: string; readonly timers: string; readonly tasks: string };
  /**
   * The inbox consumer of one hosted domain: `mailroom-inbox-<domain>` (KV-token encoded, so
   * `orders.example` → `mailroom-inbox-orders=2Eexample`; a fingerprint past 64 characters).
   * Every process hosting the domain shares it; see {@link Names.inboxDomainFilter}.
   */
  inboxDomainConsumer(domain: string): string;
  /** The filter of {@link Names.inboxDomainConsumer}: `mailroom.inbox.<domain>.>`, every sender's envelopes to that domain. */
  inboxDomainFilter(domain: string): string;
  /** The ordered inbox: `MAILROOM_ORDERED`, subjects `mailroom.ordered.<partition>.<to>.<from>`. */
  readonly ordered: {
    readonly stream: string;
    readonly streamSubject: string;
    subject(partition: number, to: string, from: string): string;
    filter(partition: number): string;
    consumer(partition: number): string;
  };
  /** `mailroom.tasks.<kind>`: a durable task (a workflow's activity), queued apart from timers so long work never holds a timer back. */
  taskSubject(kind: string): string;
  /** `mailroom.timers.<kind>`: a durable timer of that kind. */
  timerSubject(kind: string): string;
  /** Core NATS subject on which a finished conversation is announced, so the process that waits for it hears. */
  conversationDoneSubject(key: string): string;
  /** Wildcard of {@link Names.conversationDoneSubject}. */
  readonly conversationDoneWildcard: string;
  /** Reverses {@link Names.conversationDoneSubject} for a status-shaped key; throws {@link InvalidNameError}. */
  parseConversationDoneSubject(subject: string): ParsedKey;
  /** KV bucket names: `mailroom-status`, `mailroom-replay`, `mailroom-outbound`, `mailroom-conversations`, `mailroom-subscriptions`, `mailroom-workflows`. */
  readonly buckets: { readonly status: string; readonly replay: string; readonly outbound: string; readonly conversations: string; readonly subscriptions: string; readonly workflows: string };
  /** The cluster-wide throttle's bucket, `mailroom-throttle`: created only when a limit has `scope: cluster` (so not in {@link Names.buckets}). */
  readonly throttleBucket: string;
  /** The throttle bucket key of a subject's cluster-wide in-flight leases: `f.<subject>`. */
  throttleInFlightKey(subject: string): string;
  /** The throttle bucket key of a sender's cluster-wide token bucket: `r.<sender>`. */
  throttleRateKey(sender: string): string;
  /** The outbound bucket key of an outbound envelope, by its deterministic message ID (`reply/<from>/<correlation>`, ...): one KV token. */
  outboundKey(msgId: string): string;
  /** The workflows bucket key of a workflow: `w.<id>`, KV-encoded. */
  workflowKey(id: string): string;
  /** The workflows bucket key linking a correlation to the workflow it belongs to: `c.<correlation>`. */
  workflowCorrelationKey(correlation: string): string;
  /** `mailroom.inbox.<to>.<from>` */
  inboxSubject(to: string, from: string): string;
  /** `mailroom.outbox.<to>.<from>` */
  outboxSubject(to: string, from: string): string;
  /** `mailroom.dlq.<to>.<from>` */
  dlqSubject(to: string, from: string): string;
  /** Reverses the three subject builders; `undefined` for a subject that is not one of ours. */
  parseSubject(subject: string): ParsedSubject | undefined;
  /** The status bucket key of an envelope: `<from>.<correlation>`, both KV-encoded. */
  statusKey(from: string, correlation: string): string;
  /** The replay bucket key of a correlation seen from a sender (same shape as the status key). */
  replayKey(from: string, correlation: string): string;
  /** Reverses {@link Names.statusKey} and {@link Names.replayKey}; throws {@link InvalidNameError}. */
  parseKey(key: string): ParsedKey;
  /**
   * The ingress `Nats-Msg-Id`: `<From>/<Correlation>/<Hash>/<signature fingerprint>` (the
   * JetStream dedupe key). The Hash and a digest of the Signature are in it so that an
   * unverified copy (same From and Correlation, other body, or the genuine body with a forged
   * signature) can never block the genuine envelope: only a copy that signs the same content
   * with the same signature is a duplicate.
   */
  inboxMsgId(from: string, correlation: string, hash: string, signature: string): string;
}

const PREFIX = /^[A-Za-z][A-Za-z0-9_-]{0,31}$/;

/**
 * Builds every NATS name for one runtime. The prefix (default `mailroom`,
 * case-insensitive) lets tests and several runtimes share one server without clashing.
 *
 * @example
 * ```ts
 * const names = createNames();
 * names.streams.inbox;                             // 'MAILROOM_INBOX'
 * names.inboxSubject('orders.example', 'Anonymous'); // 'mailroom.inbox.orders%2Eexample.Anonymous'
 * names.statusKey('shop.example', '0f8fad5b-d9cb-469f-a165-70867728950e');
 * // 'shop=2Eexample.0f8fad5b-d9cb-469f-a165-70867728950e'
 * ```
 */
export function createNames(prefix = 'mailroom'): Names {
  if (!PREFIX.test(prefix)) {
    throw new InvalidNameError(`prefix must match ${PREFIX.source}, got ${JSON.stringify(prefix)}`, prefix);
  }
  const lower = prefix.toLowerCase();
  const upper = prefix.toUpperCase();
  const domainToken = memo(encodeToken);
  const domainKeyToken = memo(encodeKeyToken);
  const subject = (kind: StreamKind) => (to: string, from: string) =>
    `${lower}.${kind}.${domainToken(to)}.${domainToken(from)}`;
  const key = (from: string, correlation: string) => `${domainKeyToken(from)}.${encodeKeyToken(correlation)}`;
  const parseKey = (value: string): ParsedKey => {
    const parts = value.split('.');
    if (parts.length !== 2) throw new InvalidNameError(`KV key must have two tokens, got ${JSON.stringify(value)}`, value);
    return { from: decodeKeyToken(parts[0] ?? ''), correlation: decodeKeyToken(parts[1] ?? '') };
  };

  return {
    prefix: lower,
    streams: { inbox: `${upper}_INBOX`, outbox: `${upper}_OUTBOX`, dlq: `${upper}_DLQ`, timers: `${upper}_TIMERS`, tasks: `${upper}_TASKS` },
    streamSubjects: { inbox: `${lower}.inbox.>`, outbox: `${lower}.outbox.>`, dlq: `${lower}.dlq.>`, timers: `${lower}.timers.>`, tasks: `${lower}.tasks.>` },
    consumers: { inbox: `${lower}-inbox`, outbox: `${lower}-outbox`, timers: `${lower}-timers`, tasks: `${lower}-tasks` },
    inboxDomainConsumer: (domain) => {
      const token = domainKeyToken(domain);
      return `${lower}-inbox-${token.length <= 64 ? token : fingerprint(domain)}`;
    },
    inboxDomainFilter: (domain) => `${lower}.inbox.${domainToken(domain)}.>`,
    timerSubject: (kind) => `${lower}.timers.${encodeToken(kind)}`,
    taskSubject: (kind) => `${lower}.tasks.${encodeToken(kind)}`,
    ordered: {
      stream: `${upper}_ORDERED`,
      streamSubject: `${lower}.ordered.>`,
      subject: (partition, to, from) => `${lower}.ordered.${partition}.${domainToken(to)}.${domainToken(from)}`,
      filter: (partition) => `${lower}.ordered.${partition}.>`,
      consumer: (partition) => `${lower}-ordered-${partition}`,
    },
    conversationDoneSubject: (key) => `${lower}.conversations.done.${key}`,
    conversationDoneWildcard: `${lower}.conversations.done.>`,
    parseConversationDoneSubject(value) {
      const head = `${lower}.conversations.done.`;
      if (!value.startsWith(head)) throw new InvalidNameError(`not a conversation-done subject: ${JSON.stringify(value)}`, value);
      return parseKey(value.slice(head.length));
    },
    buckets: { status: `${lower}-status`, replay: `${lower}-replay`, outbound: `${lower}-outbound`, conversations: `${lower}-conversations`, subscriptions: `${lower}-subscriptions`, workflows: `${lower}-workflows` },
    throttleBucket: `${lower}-throttle`,
    throttleInFlightKey: (subject) => `f.${encodeKeyToken(subject)}`,
    throttleRateKey: (sender) => `r.${domainKeyToken(sender)}`,
    outboundKey: (msgId) => encodeKeyToken(msgId),
    workflowKey: (id) => `w.${encodeKeyToken(id)}`,
    workflowCorrelationKey: (correlation) => `c.${encodeKeyToken(correlation)}`,
    inboxSubject: subject('inbox'),
    outboxSubject: subject('outbox'),
    dlqSubject: subject('dlq'),
    parseSubject(value) {
      const all = value.split('.');
      // An ordered subject carries its partition as a third token: drop it.
      const parts = all[1] === 'ordered' && all.length === 5 ? [all[0], all[1], all[3], all[4]] : all;
      if (parts.length !== 4 || parts[0] !== lower) return undefined;
      const kind = parts[1];
      if (kind === 'ordered') {
        try {
          return { kind, to: decodeToken(parts[2] ?? ''), from: decodeToken(parts[3] ?? '') };
        } catch (_) {
          return undefined;
        }
      }
      if (kind !== 'inbox' && kind !== 'outbox' && kind !== 'dlq') return undefined;
      try {
        return { kind, to: decodeToken(parts[2] ?? ''), from: decodeToken(parts[3] ?? '') };
      } catch (_) {
        return undefined;
      }
    },
    statusKey: key,
    replayKey: key,
    parseKey,
    inboxMsgId: (from, correlation, hash, signature) => `${from}/${correlation}/${hash}/${fingerprint(signature)}`,
  };
}
