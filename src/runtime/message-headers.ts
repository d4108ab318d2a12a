/**
 * The `Mailroom-*` NATS headers an inbox message carries. In a file of their own so the
 * inbox (which runs on the ingress thread) does not load the envelope runner and XState.
 */

/** Set by the HTTP inbox: when the envelope was received, before it was stored. */
export const RECEIVED_AT_HEADER = 'Mailroom-Received-At';
/** Set by the HTTP inbox: a URL the sender wants the final status POSTed to. */
export const CALLBACK_HEADER = 'Mailroom-Callback';
/** Set by a dead-letter replay: who replayed the envelope (an admin token id, `api`, `cli`). */
export const REPLAYED_BY_HEADER = 'Mailroom-Replayed-By';
