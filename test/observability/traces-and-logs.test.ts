/**
 * OpenTelemetry spans from the transition events (a user's SDK on the global API picks them
 * up), parented on the traceparent the envelope arrived with; and the pino envelope logs.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { SpanStatusCode, trace } from '@opentelemetry/api';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { startNatsServer, type NatsServerHandle } from '../support/nats-server.ts';
import { makeFixture, type Fixture } from '../support/runtime-fixture.ts';
import { waitFor } from '../support/wait-for.ts';
import { startMailroom } from '../../src/mailroom/start-mailroom.ts';
import type { Mailroom } from '../../src/core/mailroom-types.ts';
import { RetryableError } from '../../src/runtime/handlers.ts';
import type { EnvelopeStatus } from '../../src/runtime/status-store.ts';
import { startObservability, type Observability } from '../../src/observability/observability.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { logEnvelopes } from '../../src/observability/envelope-logging.ts';
import { EventEmitter } from 'node:events';
import type { MailroomEvents } from '../../src/core/mailroom-types.ts';

const exporter = new InMemorySpanExporter();
trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }));

let server: NatsServerHandle;
let fixture: Fixture;
let observability: Observability;
let mailroom: Mailroom;
const settled: EnvelopeStatus[] = [];
const jsonLines: string[] = [];
const prettyLines: string[] = [];

beforeAll(async () => {
  server = await startNatsServer();
  fixture = await makeFixture({ natsUrl: server.url, local: ['shop.example'], remote: ['orders.example'] });
  const logger = createLogger({ format: 'json', level: 'debug', destination: { write: (line: string) => void jsonLines.push(line) } });
  observability = await startObservability({ logger, metrics: false, dashboard: false });
  // A second logger, pretty, on the same events: what a terminal shows.
  const pretty = createLogger({ format: 'pretty', destination: { write: (line: string) => void prettyLines.push(line) } });
  logEnvelopes(observability.mailroomOptions.events, pretty);
  mailroom = await startMailroom(fixture.config, {
    ...observability.mailroomOptions,
    handlers: {
      'shop.example': {
        'Hello@Host': () => ({ hi: true }),
        'Flaky@Host': ({ attempt }) => {
          if (attempt < 2) throw new RetryableError('not yet', 10);
          return { attempt };
        },
      },
    },
    outboxWorker: false,
  });
  mailroom.events.on('settled', (status) => settled.push(status));
});
afterAll(async () => {
  await mailroom?.stop();
  await observability?.stop();
  await server?.stop();
});

const post = async (subject: string, headers: Record<string, string> = {}) => {
  const envelope = fixture.domains['orders.example']!.sign({ To: 'shop.example', Subject: subject });
  const res = await fetch(`${mailroom.url}/inbox`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(envelope) });
  expect(res.status).toBe(202);
  return envelope.Header.Correlation;
};
const finalOf = (correlation: string) => waitFor(() => settled.find((s) => s.correlation === correlation && s.final), { what: `${correlation} to settle` });
const spansOf = (correlation: string) => exporter.getFinishedSpans().filter((s) => s.attributes['mailroom.correlation'] === correlation);
const byName = (spans: ReadableSpan[], name: string) => spans.filter((s) => s.name === name);

describe('traces', () => {
  it('has a span per state under an envelope span that continues the incoming W3C trace', async () => {
    const traceId = randomBytes(16).toString('hex');
    const parentSpanId = randomBytes(8).toString('hex');
    const correlation = await post('Hello@Host', { traceparent: `00-${traceId}-${parentSpanId}-01`, tracestate: 'vendor=1' });
    await finalOf(correlation);
    const spans = await waitFor(() => (spansOf(correlation).length >= 4 ? spansOf(correlation) : undefined), { what: 'the spans' });

    const [envelope] = byName(spans, 'envelope Hello@Host');
    expect(envelope).toBeDefined();
    expect(envelope!.spanContext().traceId).toBe(traceId);
    expect(envelope!.parentSpanContext).toMatchObject({ traceId, spanId: parentSpanId, isRemote: true });
    expect(envelope!.spanContext().traceState?.get('vendor')).toBe('1');
    expect(envelope!.attributes).toMatchObject({ 'mailroom.from': 'orders.example', 'mailroom.to': 'shop.example', 'mailroom.state': 'replied', 'mailroom.attempt': 1 });

    const states = spans.filter((s) => s !== envelope).sort((a, b) => a.startTime[0] - b.startTime[0] || a.startTime[1] - b.startTime[1]);
    expect(states.map((s) => s.name)).toEqual(['validating', 'handling', 'replying']);
    for (const span of states) {
      expect(span.spanContext().traceId).toBe(traceId);
      expect(span.parentSpanContext?.spanId).toBe(envelope!.spanContext().spanId);
      expect(span.status.code).not.toBe(SpanStatusCode.ERROR);
    }
    // Each state span ends where the next begins.
    expect(states[0]!.endTime).toEqual(states[1]!.startTime);
    expect(states[1]!.attributes['mailroom.next_state']).toBe('replying');
  });

  it('starts a trace of its own without a traceparent, and marks a failed handling attempt', async () => {
    const correlation = await post('Flaky@Host');
    await finalOf(correlation);
    const spans = await waitFor(() => (byName(spansOf(correlation), 'envelope Flaky@Host').length === 2 ? spansOf(correlation) : undefined), { what: 'two attempts' });
    const [first, second] = byName(spans, 'envelope Flaky@Host').sort((a, b) => Number(a.attributes['mailroom.attempt']) - Number(b.attributes['mailroom.attempt']));
    expect(first!.parentSpanContext).toBeUndefined();
    expect(first!.attributes['mailroom.state']).toBe('retrying');
    expect(second!.attributes['mailroom.state']).toBe('replied');
    const failed = spans.find((s) => s.name === 'handling' && s.parentSpanContext?.spanId === first!.spanContext().spanId);
    expect(failed?.status.code).toBe(SpanStatusCode.ERROR);
    expect(failed?.attributes['mailroom.next_state']).toBe('retrying');
  });
});

describe('logs', () => {
  it('are JSON lines, and every envelope line carries the correlation', async () => {
    const correlation = await post('Hello@Host', { traceparent: `00-${'ab'.repeat(16)}-${'cd'.repeat(8)}-01` });
    await finalOf(correlation);
    await waitFor(() => jsonLines.some((l) => l.includes(correlation) && l.includes('"state":"replied"')), { what: 'the settled line' });
    const records = jsonLines.map((line) => JSON.parse(line) as Record<string, unknown>);
    const mine = records.filter((r) => r.correlation === correlation);
    // Every line but the periodic summary (`context: 'settled'`) is about one envelope.
    for (const record of records.filter((r) => r.context !== 'settled')) expect(record.correlation, JSON.stringify(record)).toEqual(expect.any(String));
    // Debug level: one line per transition, then the settled line, at debug too: a replied envelope is the usual case.
    expect(mine.filter((r) => r.level === 20 && r.previous !== undefined).map((r) => r.state)).toEqual(['validating', 'handling', 'replying', 'replied']);
    expect(mine.filter((r) => Number(r.level) > 20)).toEqual([]);
    const done = mine.find((r) => r.level === 20 && r.previous === undefined)!;
    expect(done).toMatchObject({ name: 'mailroom', from: 'orders.example', to: 'shop.example', subject: 'Hello@Host', state: 'replied', attempt: 1, trace_id: 'ab'.repeat(16) });
    expect(done.msg).toContain(`replied      orders.example → shop.example Hello@Host ${correlation}`);
    expect(typeof done.time).toBe('string');
  });

  it('sum up the settled envelopes at info, and format no line for a replied one there', async () => {
    const lines: string[] = [];
    const events = new EventEmitter<MailroomEvents>();
    const stop = logEnvelopes(events, createLogger({ format: 'json', destination: { write: (line: string) => void lines.push(line) } }), { summaryIntervalMs: 60_000 });
    const status = (state: string, correlation: string): EnvelopeStatus => ({ from: 'orders.example', to: 'shop.example', subject: 'Hello@Host', correlation, state, final: true, attempt: 1, history: [], updatedAt: new Date().toISOString() });
    for (let i = 0; i < 3; i++) events.emit('settled', status('replied', `c${i}`), undefined);
    events.emit('settled', status('noFeedback', 'c9'), undefined);
    // The discard is a line of its own at once (warn); the replied ones only in the summary.
    expect(lines.map((l) => JSON.parse(l) as Record<string, unknown>).map((r) => [r.level, r.state])).toEqual([[40, 'noFeedback']]);
    stop();
    stop();
    const summaries = lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((r) => r.context === 'settled');
    expect(summaries).toHaveLength(1);
    expect(summaries[0]).toMatchObject({ level: 30, settled: { replied: 3, noFeedback: 1 } });
    expect(summaries[0]!.msg).toMatch(/^settled in the last \d+ s: 3 replied, 1 noFeedback$/);
  });

  it('have a readable pretty mode', async () => {
    const correlation = await post('Nope@Host');
    await finalOf(correlation);
    const line = await waitFor(() => prettyLines.find((l) => l.includes(correlation)), { what: 'the pretty line' });
    expect(line).toMatch(new RegExp(`^\\[\\d\\d:\\d\\d:\\d\\d\\.\\d{3}\\] WARN: noFeedback +orders\\.example → shop\\.example Nope@Host ${correlation} \\(unknown-subject: `));
    expect(line).not.toContain('{');
    expect(line.trim().split('\n')).toHaveLength(1);
  });
});
