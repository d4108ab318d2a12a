/**
 * The `Mailroom-*` NATS headers an inbox message carries. They live with every other NATS
 * header in `src/transport/message-headers.ts` (no imports, so the inbox on the ingress
 * thread still loads neither the envelope runner nor XState); this path re-exports them.
 */
export { RECEIVED_AT_HEADER, CALLBACK_HEADER, REPLAYED_BY_HEADER } from '../transport/message-headers.ts';
