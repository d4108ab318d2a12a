/**
 * What `mailroom start`'s observability costs per envelope, without NATS: the runtime's
 * `transition` and `settled` events of N replied envelopes (validating → handling → replying
 * → replied, 256 in flight at a time) emitted into `startObservability` (metrics, dashboard
 * tracker, spans, JSON logs to /dev/null), against the same events with no listener. CPU µs
 * per envelope, median of 5 rounds, alternating.
 *
 *   npx tsx bench/observability-cost.ts [--quick] [--json]
 */
import { EventEmitter } from 'node:events';
import { pino } from 'pino';
import type { MailroomEvents } from '../src/core/mailroom-types.ts';
import type { EnvelopeTransition } from '../src/runtime/envelope-runner.ts';
import type { EnvelopeStatus } from '../src/runtime/status-store.ts';
import { startObservability } from '../src/observability/observability.ts';
import { createLogger } from '../src/observability/logger.ts';
import { isMain, median, runAsScript, type BenchOptions, type BenchResult } from './support.ts';

const PATH = ['validating', 'handling', 'replying', 'replied'] as const;
const IN_FLIGHT = 256;

/** Emits the events of `count` replied envelopes, `IN_FLIGHT` at a time, step by step; returns CPU µs per envelope. */
function drive(events: EventEmitter<MailroomEvents>, count: number, offset: number): number {
  const started = process.cpuUsage();
  for (let base = 0; base < count; base += IN_FLIGHT) {
    const batch = Math.min(IN_FLIGHT, count - base);
    const at = Date.now();
    for (let s = 0; s < PATH.length; s++) {
      for (let i = 0; i < batch; i++) {
        const correlation = `c-${offset + base + i}`;
        const t: EnvelopeTransition = { from: 'orders.example', to: 'shop.example', subject: 'Hello@Host', correlation, attempt: 1, previous: s === 0 ? 'queued' : PATH[s - 1]!, state: PATH[s]!, at: at + s, ...(s > 0 ? { since: at + s - 1 } : {}) };
        events.emit('transition', t);
      }
    }
    const iso = new Date(at).toISOString();
    for (let i = 0; i < batch; i++) {
      const status: EnvelopeStatus = {
        from: 'orders.example',
        to: 'shop.example',
        subject: 'Hello@Host',
        correlation: `c-${offset + base + i}`,
        state: 'replied',
        final: true,
        attempt: 1,
        history: [{ state: 'received', at: iso }, { state: 'queued', at: iso }, ...PATH.map((state) => ({ state, at: iso }))],
        replyCorrelation: `c-${offset + base + i}`,
        replySubject: 'Hello@Host',
        updatedAt: iso,
      };
      events.emit('settled', status, undefined);
    }
  }
  const used = process.cpuUsage(started);
  return (used.user + used.system) / count;
}

export async function run(options: BenchOptions): Promise<BenchResult> {
  const count = options.quick ? 20_000 : 100_000;
  const rounds = options.quick ? 3 : 5;
  const plain: number[] = [];
  const observed: number[] = [];
  const observability = await startObservability({ logger: createLogger({ format: 'json', destination: pino.destination({ dest: '/dev/null', sync: true }) }) });
  try {
    const bare = new EventEmitter<MailroomEvents>();
    drive(bare, count / 4, 0);
    drive(observability.mailroomOptions.events, count / 4, 0);
    for (let r = 0; r < rounds; r++) {
      plain.push(drive(bare, count, (r + 1) * count));
      observed.push(drive(observability.mailroomOptions.events, count, (r + 1) * count));
    }
  } finally {
    await observability.stop();
  }
  const added = median(observed) - median(plain);
  return {
    name: 'observability-cost: what metrics, dashboard tracker, spans and JSON logs add per envelope (events only, no NATS)',
    results: {
      'events with no listener: CPU per envelope (µs)': median(plain),
      'with startObservability: CPU per envelope (µs)': median(observed),
      'added per envelope (µs)': added,
    },
    notes: [`${count} replied envelopes per round (4 transitions and a settled event each, ${IN_FLIGHT} in flight), ${rounds} rounds alternating, medians; logs to /dev/null at info, no OpenTelemetry SDK registered`],
  };
}

if (isMain(import.meta.url)) await runAsScript(run);
