/**
 * Mailroom: the one public entry of the library. Explicit named exports only.
 */
export { MailroomError, ConfigError, KeyFormatError, KeyLookupError, TransportError, NatsServerError } from './errors.ts';

// Envelope: parse, canonicalise, sign, verify.
export { decodeEnvelope, verifyDecoded, verifyEnvelopeText, signEnvelope, encodeEnvelope, canonicalBytes, hashHex, defaultParseLimits } from './envelope/index.ts';
export type { DecodedEnvelope, EnvelopeDraft, ParseLimits } from './envelope/index.ts';
export { checkTimestamp } from './envelope/timestamp-window.ts';
export type { TimestampWindow } from './envelope/timestamp-window.ts';
export { MSG_SCHEMA, envelopeReasons } from './envelope/types.ts';
export type { Envelope, EnvelopeHeader, EnvelopeReason, JsonValue, Rejection, Result } from './envelope/types.ts';

// Keys.
export {
  parsePublicKey,
  parsePrivateKey,
  createStaticKeyring,
  createDnsKeyResolver,
  createCachedKeyResolver,
  chainKeyResolvers,
  generateDomainKeys,
  dkimRecordName,
} from './keys/index.ts';
export type { KeyResolver, KeyringEntry, PublicKey, PrivateKey, GeneratedDomainKeys } from './keys/index.ts';

// Config.
export { loadConfig, parseConfig, parseDuration } from './config/index.ts';
export type { MailroomConfig, MailroomConfigInput } from './config/index.ts';

// Runtime.
export { startMailroom } from './runtime/mailroom.ts';
export type { Mailroom, MailroomOptions, MailroomEvents } from './runtime/mailroom.ts';
export { RetryableError, FinalError, FEEDBACK_SUBJECT, replySubject, isReplySubject } from './runtime/handlers.ts';
export type { Handler, HandlerContext, HandlerMap, HandlerResult } from './runtime/handlers.ts';
export type { EnvelopeStatus, StatusStep, DiscardInfo } from './runtime/status-store.ts';
export type { AcceptOutcome } from './runtime/inbox.ts';
export { envelopeMachine, envelopeStateNames, envelopeFinalStates } from '../machines/envelope.machine.ts';
