/**
 * Mailroom: the library's main entry ('mailroom'). Explicit named exports only. Heavier parts
 * have entries of their own: 'mailroom/observability', 'mailroom/http', 'mailroom/testing'.
 */
export { MailroomError, ConfigError, KeyFormatError, KeyLookupError, TransportError, NatsServerError, AlreadyRunningError, TypeScriptModuleError, MailroomNotStartedError, InspectionFilterError } from './errors.ts';

// Envelope: parse, canonicalise, sign, verify.
export { decodeEnvelope, verifyDecoded, verifyEnvelopeText, signEnvelope, encodeEnvelope, canonicalBytes, hashHex, defaultParseLimits, LosslessBody, parseLosslessBody, canonicalForms } from './envelope/index.ts';
export type { DecodedEnvelope, EnvelopeDraft, ParseLimits, CanonicalForm } from './envelope/index.ts';
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
export { startMailroom } from './mailroom/start-mailroom.ts';
export { createMailroom } from './mailroom/create-mailroom.ts';
export type { MailroomClient } from './mailroom/create-mailroom.ts';
export type { Mailroom, MailroomOptions, MailroomEvents } from './core/mailroom-types.ts';
export { RetryableError, FinalError, FEEDBACK_SUBJECT, replySubject, isReplySubject } from './runtime/handlers.ts';
export type { Handler, HandlerContext, HandlerMap, HandlerResult } from './runtime/handlers.ts';
export type { EnvelopeStatus, StatusStep, DiscardInfo } from './runtime/status-store.ts';
export type { AcceptOutcome } from './runtime/inbox.ts';
export { envelopeMachine, envelopeStateNames, envelopeFinalStates, envelopeStepActions } from '../machines/envelope.machine.ts';
export type { EnvelopeSteps, EnvelopeEvent, EnvelopeStepName } from '../machines/envelope.machine.ts';
export { conversationMachine, conversationStateNames } from '../machines/conversation.machine.ts';
export type { ConversationOutcome, ConversationReply, ConversationInput } from '../machines/conversation.machine.ts';
export type { RequestOptions, MailroomStats } from './core/mailroom-types.ts';
export type { ConversationRecord } from './runtime/conversations.ts';
export type { Publication } from './runtime/topics.ts';
export type { DeadLetter, ReplayResult } from './runtime/dead-letter-store.ts';
export type { EnvelopeTransition } from './runtime/envelope-runner.ts';
export type { TraceContext } from './runtime/trace-context.ts';
export type { OrderingKey } from './runtime/ordering.ts';
export type { HttpPlugin, AuditEntry } from './core/mailroom-types.ts';

// Batch handlers: one call for up to N envelopes of a subject; each keeps its own actor and final state.
export { batchHandler } from './runtime/batch-handler.ts';
export type { BatchedHandler } from './runtime/batch-handler.ts';
export { BatchResultError } from './runtime/batch-types.ts';
export type { BatchHandler, BatchContext, BatchItemResult, BatchOptions } from './runtime/batch-types.ts';

// Workflows: users' own XState machines, run durably.
export { activity, activityContext, fromRequest, defaultActivityPolicy } from './workflows/activity.ts';
export type { ActivityArgs, ActivityContext, ActivityPolicy, WorkflowRequest, WorkflowRequestFailure } from './workflows/activity.ts';
export { machineVersion } from './workflows/machine-version.ts';
export {
  WorkflowNotFoundError,
  WorkflowAlreadyExistsError,
  UnknownWorkflowError,
  WorkflowNotRunningError,
  InvalidWorkflowInputError,
  ActivityTimeoutError,
  WorkflowWaitTimeoutError,
} from './workflows/workflow-errors.ts';
export type {
  Workflows,
  WorkflowOptions,
  WorkflowInfo,
  WorkflowStatus,
  WorkflowEvent,
  WorkflowFilter,
  WorkflowChange,
  WorkflowHistoryEntry,
  WorkflowMigration,
  WorkflowTrigger,
  PersistedWorkflowSnapshot,
  RegisteredWorkflow,
} from './workflows/workflow-types.ts';

// Inspection filters for `startMailroom(config, { inspect })`. The rest of observability
// (metrics, logs, traces, the inspector server, the dashboard, machine export) is in
// 'mailroom/observability', and the dashboard's HTTP plugin in 'mailroom/http', so that this
// entry loads no HTTP server, WebSocket, logger or metrics registry.
export { inspectionPredicate, parseInspectionFilter } from './observability/inspection-filter.ts';
export type { InspectionFilter, InspectionPredicate } from './observability/inspection-filter.ts';
