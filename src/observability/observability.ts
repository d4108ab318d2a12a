import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import type { InspectionEvent } from 'xstate';
import type { HttpPlugin } from '../core/mailroom-types.ts';
import type { Mailroom, MailroomEvents } from '../core/mailroom-types.ts';
import { createDashboardPlugin } from './dashboard/dashboard-plugin.ts';
import { createDashboardExtras, type DashboardExtras } from './dashboard/dashboard-extras.ts';
import { createInspectorPagePlugin } from './dashboard/inspector-page.ts';
import { logEnvelopes } from './envelope-logging.ts';
import { traceEnvelopes, type EnvelopeTracing, type EnvelopeTracingOptions } from './envelope-tracing.ts';
import { EnvelopeTracker } from './envelope-tracker.ts';
import type { InspectorServer, InspectorServerOptions } from './inspector-server.ts';
import { createMailroomMetrics, type MailroomMetrics, type MailroomMetricsOptions } from './mailroom-metrics.ts';
import { ConversationCounter } from './conversation-counter.ts';
import { EnvelopeStates } from './envelope-states.ts';

export interface ObservabilityOptions {
  /** The runtime's event emitter (default: a new one; pass the same to `startMailroom`). */
  readonly events?: EventEmitter<MailroomEvents>;
  /** Log every settled envelope (and transitions at debug level) with this logger. */
  readonly logger?: Logger;
  /** `GET /metrics` (default on). */
  readonly metrics?: boolean | MailroomMetricsOptions;
  /** The dashboard at `/` (default on). `recent`: how many envelopes it remembers. */
  readonly dashboard?: boolean | { readonly recent?: number };
  /** OpenTelemetry spans per envelope and state (default on; no-ops without an SDK). */
  readonly tracing?: boolean | EnvelopeTracingOptions;
  /** Starts the WebSocket inspector and serves the `/inspect` relay page. */
  readonly inspector?: InspectorServerOptions & { readonly inspectorUrl?: string };
}

/** Everything observability adds to a runtime; `stop()` after the runtime's. */
export interface Observability {
  /** Spread into `startMailroom`'s options: `events`, `httpPlugins` and (with an inspector) `inspect`. */
  readonly mailroomOptions: {
    readonly events: EventEmitter<MailroomEvents>;
    readonly httpPlugins: readonly HttpPlugin[];
    readonly inspect?: (event: InspectionEvent) => void;
  };
  readonly metrics?: MailroomMetrics;
  readonly tracker?: EnvelopeTracker;
  readonly inspector?: InspectorServer;
  /** Gives the metrics the runtime's `stats()` (JetStream depths at scrape time). */
  attach(mailroom: Pick<Mailroom, 'stats' | 'inboxMetrics' | 'workflows'>): void;
  /** Stops listening and closes the inspector. Idempotent. */
  stop(): Promise<void>;
}

const enabled = <T extends object>(option: boolean | T | undefined): T | undefined => (option === false ? undefined : option === true || option === undefined ? ({} as T) : option);

/**
 * Sets up Mailroom's observability around a runtime that is about to start: metrics,
 * dashboard, traces, envelope logs, and optionally the Stately inspector.
 *
 * @example
 * ```ts
 * const observability = await startObservability({ logger: createLogger(), inspector: { port: 8081 } });
 * const mailroom = await startMailroom(config, { ...observability.mailroomOptions, handlers });
 * observability.attach(mailroom);
 * // ...
 * await mailroom.stop();
 * await observability.stop();
 * ```
 */
export async function startObservability(options: ObservabilityOptions = {}): Promise<Observability> {
  const events = options.events ?? new EventEmitter<MailroomEvents>();
  const stops: (() => void | Promise<void>)[] = [];
  const httpPlugins: HttpPlugin[] = [];

  // One in-flight table for the metrics and the dashboard, fed once per transition (before them).
  const states = new EnvelopeStates();
  const feedStates = (t: Parameters<EnvelopeStates['apply']>[0]) => void states.apply(t);
  const forgetSettled = (status: Parameters<EnvelopeStates['settled']>[0]) => void states.settled(status);
  events.on('transition', feedStates);
  events.on('settled', forgetSettled);
  stops.push(() => {
    events.off('transition', feedStates);
    events.off('settled', forgetSettled);
  });

  const metricsOptions = enabled(options.metrics);
  const metrics = metricsOptions ? createMailroomMetrics({ ...metricsOptions, states }) : undefined;
  if (metrics) {
    stops.push(metrics.attach(events));
    httpPlugins.push(metrics.plugin);
  }

  let inspector: InspectorServer | undefined;
  if (options.inspector) {
    // Loaded only with an inspector: ws and @statelyai/inspect are ~10 MB of resident memory.
    const { startInspectorServer } = await import('./inspector-server.ts');
    inspector = await startInspectorServer(options.inspector);
    stops.push(() => inspector!.stop());
    httpPlugins.push(createInspectorPagePlugin({ port: inspector.port, host: inspector.host, ...(options.inspector.inspectorUrl ? { inspectorUrl: options.inspector.inspectorUrl } : {}) }));
  }

  const dashboardOptions = enabled(options.dashboard);
  let tracker: EnvelopeTracker | undefined;
  let extras: DashboardExtras | undefined;
  if (dashboardOptions) {
    tracker = new EnvelopeTracker({ capacity: Math.max(200, dashboardOptions.recent ?? 0), states });
    stops.push(tracker.attach(events));
    const conversations = new ConversationCounter();
    stops.push(conversations.attach(events));
    httpPlugins.push(createDashboardPlugin({ tracker, conversations, ...(dashboardOptions.recent ? { recent: dashboardOptions.recent } : {}), ...(inspector ? { inspectPath: '/inspect' } : {}) }));
    extras = createDashboardExtras({ tracker });
    stops.push(() => extras!.stop());
    httpPlugins.push(extras.plugin);
  }

  const tracingOptions = enabled(options.tracing);
  if (tracingOptions) {
    const tracing: EnvelopeTracing = traceEnvelopes(events, tracingOptions);
    stops.push(() => tracing.stop());
  }
  if (options.logger) stops.push(logEnvelopes(events, options.logger));

  let stopping: Promise<void> | undefined;
  return {
    mailroomOptions: { events, httpPlugins, ...(inspector ? { inspect: inspector.inspect } : {}) },
    ...(metrics ? { metrics } : {}),
    ...(tracker ? { tracker } : {}),
    ...(inspector ? { inspector } : {}),
    attach(mailroom) {
      metrics?.useStats(() => mailroom.stats());
      metrics?.useInbox(() => mailroom.inboxMetrics());
      extras?.attach(mailroom);
    },
    stop: () =>
      (stopping ??= (async () => {
        for (const stop of stops.reverse()) await stop();
      })()),
  };
}
