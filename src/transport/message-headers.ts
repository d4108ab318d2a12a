/**
 * The NATS headers Mailroom reads and writes, in one place. No imports: the inbox (which runs
 * on the ingress thread) loads this without the envelope runner or XState.
 */

/** JetStream's dedupe header; Mailroom's IDs are built by `messageIds` in `message-ids.ts`. */
export const MSG_ID_HEADER = 'Nats-Msg-Id';
/** Set by the HTTP inbox: when the envelope was received, before it was stored. */
export const RECEIVED_AT_HEADER = 'Mailroom-Received-At';
/** Set by the HTTP inbox: a URL the sender wants the final status POSTed to; on an outbox message, that URL. */
export const CALLBACK_HEADER = 'Mailroom-Callback';
/** Set by a dead-letter replay: who replayed the envelope (an admin token id, `api`, `cli`). */
export const REPLAYED_BY_HEADER = 'Mailroom-Replayed-By';
/** Set by a dead-letter replay: the dead letter's sequence in the DLQ stream. */
export const REPLAY_OF_HEADER = 'Mailroom-Replay-Of';
/** On an outbox message: why it exists (`send`, `reply`, `feedback`, `callback`, ...). */
export const KIND_HEADER = 'Mailroom-Kind';
/** On a dead letter: why it was dead-lettered (`max-attempts`, `final-error`, `poison`). */
export const REASON_HEADER = 'Mailroom-Reason';
/** On a dead letter: the envelope machine's state when it gave up. */
export const LAST_STATE_HEADER = 'Mailroom-Last-State';
/** On a dead letter: the name of the last failure, when it had one (`handler-timeout`). */
export const LAST_REASON_HEADER = 'Mailroom-Last-Reason';
/** On a dead letter: the deliveries it had. */
export const ATTEMPTS_HEADER = 'Mailroom-Attempts';
/** On a timer or task message: when it is due (epoch ms). */
export const DUE_HEADER = 'Mailroom-Due';
/** W3C trace context, carried from the inbox to the reply (`runtime/trace-context.ts`). */
export const TRACEPARENT_HEADER = 'traceparent';
export const TRACESTATE_HEADER = 'tracestate';
