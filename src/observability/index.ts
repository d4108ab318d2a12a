/**
 * 'mailroom/observability': metrics (prom-client), logs (pino), traces (OpenTelemetry), the
 * inspector's WebSocket server, the envelope tracker behind the dashboard, and machine export.
 * Kept out of the main entry so a library user who wants none of it loads none of it.
 */
export { startObservability } from './observability.ts';
export type { Observability, ObservabilityOptions } from './observability.ts';
export { createLogger, defaultLogFormat, logFormats } from './logger.ts';
export type { LogFormat, LoggerOptions } from './logger.ts';
export { logEnvelopes } from './envelope-logging.ts';
export { createMailroomMetrics } from './mailroom-metrics.ts';
export type { MailroomMetrics, MailroomMetricsOptions } from './mailroom-metrics.ts';
export type { InboxSnapshot } from '../core/inbox-snapshot.ts';
export { traceEnvelopes } from './envelope-tracing.ts';
export type { EnvelopeTracing, EnvelopeTracingOptions } from './envelope-tracing.ts';
export { startInspectorServer, DEFAULT_INSPECT_PORT } from './inspector-server.ts';
export type { InspectorServer, InspectorServerOptions } from './inspector-server.ts';
export { inspectionPredicate, parseInspectionFilter } from './inspection-filter.ts';
export { InspectionFilterError } from '../errors.ts';
export type { InspectionFilter, InspectionPredicate } from './inspection-filter.ts';
export { EnvelopeTracker } from './envelope-tracker.ts';
export type { TrackedEnvelope, StateCounts, EnvelopeTrackerOptions } from './envelope-tracker.ts';
export { runtimeMachines } from './machine-catalog.ts';
export type { CatalogMachine } from './machine-catalog.ts';
export { machineToStatelyJson, exportMachines } from './machine-export.ts';
export type { ExportedMachine } from './machine-export.ts';
