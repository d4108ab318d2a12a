import type { FastifyInstance, FastifyReply } from 'fastify';
import type { EnvelopeTracker, StateCounts } from '../envelope-tracker.ts';
import { runtimeMachines, type CatalogMachine } from '../machine-catalog.ts';
import { statechartSvg } from './statechart-svg.ts';
import { readStaticFile, type StaticFile } from './static-file.ts';

export interface DashboardOptions {
  /** The recent envelopes and live counts (attach it to the runtime's events before start). */
  readonly tracker: EnvelopeTracker;
  /** Counts of the conversations this process started (the conversation machine's badges). */
  readonly conversations?: { counts(): StateCounts; onChange(listener: () => void): () => void };
  /** The machines to draw (default: the runtime's). */
  readonly machines?: readonly CatalogMachine[];
  /** How many recent envelopes the page lists (default 50). */
  readonly recent?: number;
  /** The inspector relay page, when the runtime runs with an inspector: the page links to it. */
  readonly inspectPath?: string;
  /** At most this many pushes per second to each open page (default 4). */
  readonly maxPushesPerSecond?: number;
}

const FILES = ['index.html', 'dashboard.css', 'dashboard.js'] as const;

/**
 * The dashboard as an HTTP plugin (`startMailroom(config, { httpPlugins: [createDashboardPlugin(...)] })`):
 * `GET /` the page; `/dashboard/*` its script and style, the machines as SVG statecharts,
 * the live state, a correlation search, and a Server-Sent Events stream of the state.
 * Everything is served by the runtime: no CDN, works offline. The page itself reads
 * `GET /stats`, `GET /readyz` (the badge says when NATS is down), the envelopes in the status
 * store (`GET /envelopes`, `GET /envelopes/:from/:correlation/detail`), the dead letters
 * (`GET /dead-letters`, `GET /dead-letters/groups`, `POST /dead-letters/:id/replay`,
 * `POST /dead-letters/replay|purge`, `POST /envelopes/outcomes`) and the workflows
 * (`GET /workflows`, `GET /workflows/:id`); see admin-envelopes.ts and admin-dead-letters.ts.
 */
export function createDashboardPlugin(options: DashboardOptions): (app: FastifyInstance) => Promise<void> {
  const { tracker } = options;
  const machines = options.machines ?? runtimeMachines;
  const recent = options.recent ?? 50;
  const minPushGapMs = 1000 / Math.max(0.1, options.maxPushesPerSecond ?? 4);
  const state = () => ({
    at: new Date().toISOString(),
    counts: { envelope: tracker.counts(), ...(options.conversations ? { conversation: options.conversations.counts() } : {}) },
    recent: tracker.recent(recent),
  });

  return async (app) => {
    // Laid out by elk on the first request (not at start: it takes a moment), then cached per machine.
    let drawn: Promise<unknown[]> | undefined;
    const draw = () => {
      drawn ??= Promise.all(machines.map(async (m) => ({ id: m.id, description: m.description, finalStates: m.finalStates, counted: m.counted, svg: await statechartSvg(m.machine, m) })));
      drawn.catch(() => (drawn = undefined));
      return drawn;
    };
    const files = new Map<string, StaticFile>();
    for (const name of FILES) files.set(name, await readStaticFile(name));
    const serve = (name: (typeof FILES)[number]) => async (_request: unknown, reply: FastifyReply) => {
      const file = files.get(name)!;
      return reply.type(file.type).header('cache-control', 'no-cache').send(file.body);
    };
    app.get('/', serve('index.html'));
    app.get('/dashboard/dashboard.css', serve('dashboard.css'));
    app.get('/dashboard/dashboard.js', serve('dashboard.js'));
    app.get('/dashboard/api/config', async () => ({ machines: await draw(), ...(options.inspectPath ? { inspect: options.inspectPath } : {}) }));
    app.get('/dashboard/api/state', async () => state());
    app.get<{ Querystring: { correlation?: string } }>('/dashboard/api/envelopes', async (request, reply) => {
      const correlation = request.query.correlation?.trim();
      if (!correlation) return reply.code(400).send({ error: 'bad-request', detail: 'give ?correlation=…' });
      return { envelopes: tracker.find(correlation) };
    });

    const streams = new Set<FastifyReply>();
    app.get('/dashboard/api/stream', (request, reply) => {
      reply.hijack();
      const raw = reply.raw;
      raw.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-accel-buffering': 'no' });
      const push = () => raw.write(`event: state\ndata: ${JSON.stringify(state())}\n\n`);
      let lastPush = 0;
      let timer: NodeJS.Timeout | undefined;
      // At most one push per gap: a busy runtime changes many times a millisecond.
      const schedule = () => {
        if (timer) return;
        const wait = Math.max(0, lastPush + minPushGapMs - Date.now());
        timer = setTimeout(() => {
          timer = undefined;
          lastPush = Date.now();
          push();
        }, wait);
      };
      const heartbeat = setInterval(() => raw.write(': keep-alive\n\n'), 15_000);
      const unsubscribeEnvelopes = tracker.onChange(schedule);
      const unsubscribeConversations = options.conversations?.onChange(schedule);
      streams.add(reply);
      const close = () => {
        unsubscribeEnvelopes();
        unsubscribeConversations?.();
        clearInterval(heartbeat);
        if (timer) clearTimeout(timer);
        streams.delete(reply);
      };
      request.raw.on('close', close);
      push();
    });
    // Open streams would keep the server from closing.
    app.addHook('preClose', async () => {
      for (const reply of streams) reply.raw.end();
    });
  };
}
