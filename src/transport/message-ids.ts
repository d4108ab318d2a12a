/**
 * The `Nats-Msg-Id` of everything Mailroom publishes: JetStream's dedupe key, and the key of
 * an outbound record (`names.outboundKey`). Deterministic, so a retried attempt publishes
 * (and signs) the same message once. The ingress ID is `names.inboxMsgId`.
 */
export const messageIds = {
  /** The reply to a request: one per (requester, correlation). */
  reply: (requester: string, correlation: string): string => `reply/${requester}/${correlation}`,
  /** Feedback about a discarded envelope; by its Hash too, so a forged copy's feedback never takes the genuine one's place. */
  feedback: (from: string, correlation: string, hash: string): string => `feedback/${from}/${correlation}/${hash}`,
  /** The completion callback of an envelope (of the one with `hash`, when known). */
  callback: (from: string, correlation: string, hash?: string): string => `callback/${from}/${correlation}${hash ? `/${hash}` : ''}`,
  /** An envelope sent through the API (`send`, `request`). */
  send: (from: string, correlation: string): string => `send/${from}/${correlation}`,
  /** One subscriber's copy of a published event. */
  publish: (from: string, eventId: string, subscriber: string): string => `publish/${from}/${eventId}/${subscriber}`,
  /** A durable timer (or task). */
  timer: (kind: string, id: string): string => `timer/${kind}/${id}`,
  /** The dead letter of the stored message `seq` of `stream`. */
  deadLetter: (stream: string, seq: number): string => `dlq/${stream}/${seq}`,
  /** The replay of dead letter `id` (its sequence in the DLQ stream `dlqStream`). */
  replay: (dlqStream: string, id: number | string): string => `replay/${dlqStream}/${id}`,
} as const;

/** The client names Mailroom's NATS connections give the server (seen in `nats server report connections`). */
export const CONNECTION_NAMES = { runtime: 'mailroom', ingress: 'mailroom-ingress', testkit: 'mailroom-testkit' } as const;

/** The queue group the poison watchers of every process share, so one handles each advisory. */
export const POISON_QUEUE_GROUP = 'mailroom-poison';

/** `$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.<stream>.<consumer>`: a message ran out of deliveries (io.nats.jetstream.advisory.v1.max_deliver). */
export const maxDeliveriesAdvisorySubject = (stream: string, consumer: string): string => `$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.${stream}.${consumer}`;

/** The stream behind a KV bucket (a nats.js / server convention). */
export const kvStreamName = (bucket: string): string => `KV_${bucket}`;
