import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import type { FastifyInstance } from 'fastify';
import type { Mailroom } from '../../core/mailroom-types.ts';
import type { EnvelopeTracker } from '../envelope-tracker.ts';
import { readStaticFile, type StaticFile } from './static-file.ts';
import { ThroughputSampler, type ThroughputTotals } from './throughput-sampler.ts';
import { registerWorkflowRoutes, type WorkflowSource } from './workflow-routes.ts';

const OWN = ['workflows-view.js', 'charts.js', 'extras.css'] as const;
const UPLOT = ['uPlot.iife.min.js', 'uPlot.min.css'] as const;

async function readUplot(name: (typeof UPLOT)[number]): Promise<StaticFile> {
  const path = createRequire(import.meta.url).resolve(`uplot/dist/${name}`);
  return { body: await readFile(path), type: name.endsWith('.css') ? 'text/css; charset=utf-8' : 'text/javascript; charset=utf-8' };
}

/** Envelopes that went through `discarded` end in `feedbackSent` or `noFeedback`. */
export function throughputTotals(tracker: Pick<EnvelopeTracker, 'counts'>, accepted: number | undefined): ThroughputTotals {
  const finished = tracker.counts().finished;
  return {
    ...(accepted !== undefined ? { accepted } : {}),
    replied: finished['replied'] ?? 0,
    discarded: (finished['feedbackSent'] ?? 0) + (finished['noFeedback'] ?? 0),
    deadLettered: finished['deadLettered'] ?? 0,
  };
}

/** What {@link createDashboardExtras} gives: the plugin, and the runtime to read once it runs. */
export interface DashboardExtras {
  readonly plugin: (app: FastifyInstance) => Promise<void>;
  readonly sampler: ThroughputSampler;
  /** Gives the routes the runtime's workflows and the sampler its inbox counts; starts sampling. */
  attach(mailroom: Pick<Mailroom, 'workflows' | 'inboxMetrics'>): void;
  /** Idempotent. */
  stop(): void;
}

/**
 * The dashboard's Workflows view and throughput charts: their page files (uPlot's too, from
 * the package: no CDN), `GET /dashboard/api/workflow-kinds`, `GET /dashboard/api/workflow-chart/{id}`
 * and `GET /dashboard/api/throughput` (`?seconds=`: per-second rates of accepted, replied,
 * discarded and dead-lettered envelopes, the last ten minutes at most).
 */
export function createDashboardExtras(options: { readonly tracker: Pick<EnvelopeTracker, 'counts'>; readonly sampleIntervalMs?: number }): DashboardExtras {
  const source: WorkflowSource = {};
  let inbox: (() => Promise<{ accepted: number } | undefined>) | undefined;
  const sampler = new ThroughputSampler({
    read: async () => throughputTotals(options.tracker, (await inbox?.())?.accepted),
    ...(options.sampleIntervalMs ? { intervalMs: options.sampleIntervalMs } : {}),
  });
  return {
    sampler,
    plugin: async (app) => {
      const files = new Map<string, StaticFile>();
      for (const name of OWN) files.set(`/dashboard/${name}`, await readStaticFile(name));
      for (const name of UPLOT) files.set(`/dashboard/uplot/${name}`, await readUplot(name));
      for (const [path, file] of files) app.get(path, async (_request, reply) => reply.type(file.type).header('cache-control', 'no-cache').send(file.body));
      registerWorkflowRoutes(app, source);
      app.get<{ Querystring: { seconds?: string } }>('/dashboard/api/throughput', async (request) => {
        const seconds = request.query.seconds === undefined ? undefined : Number(request.query.seconds);
        return sampler.series(seconds !== undefined && Number.isFinite(seconds) ? seconds : undefined);
      });
    },
    attach(mailroom) {
      source.workflows = mailroom.workflows;
      inbox = () => mailroom.inboxMetrics();
      sampler.start();
    },
    stop: () => sampler.stop(),
  };
}
