/**
 * The in-flight table the metrics and the dashboard share, the tracker's rows built from it
 * when read, and spans only while an OpenTelemetry SDK is registered.
 */
import { describe, expect, it } from 'vitest';
import { EventEmitter } from 'node:events';
import { trace } from '@opentelemetry/api';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { MailroomEvents } from '../../src/core/mailroom-types.ts';
import type { EnvelopeTransition } from '../../src/runtime/envelope-runner.ts';
import type { EnvelopeStatus } from '../../src/runtime/status-store.ts';
import { EnvelopeStates } from '../../src/observability/envelope-states.ts';
import { EnvelopeTracker } from '../../src/observability/envelope-tracker.ts';
import { hasTracerProvider, traceEnvelopes } from '../../src/observability/envelope-tracing.ts';

const who = { from: 'orders.example', to: 'shop.example', subject: 'Hello@Host' };
const step = (correlation: string, previous: string, state: string, at: number, attempt = 1): EnvelopeTransition => ({ ...who, correlation, attempt, previous, state, at });
const status = (correlation: string, state: string, attempt = 1): EnvelopeStatus => ({
  ...who,
  correlation,
  state,
  final: state !== 'retrying',
  attempt,
  history: [
    { state: 'received', at: new Date(1_000).toISOString() },
    { state, at: new Date(2_000).toISOString() },
  ],
  updatedAt: new Date(2_000).toISOString(),
});

describe('EnvelopeStates', () => {
  it('counts actors per state, finals once, and forgets a settled actor', () => {
    const states = new EnvelopeStates();
    states.apply(step('a', 'queued', 'validating', 1));
    states.apply(step('b', 'queued', 'validating', 1));
    const change = states.apply(step('a', 'validating', 'handling', 5));
    expect(change.left).toEqual({ state: 'validating', enteredAt: 1 });
    expect(Object.fromEntries(states.counts())).toEqual({ validating: 1, handling: 1 });
    states.apply(step('a', 'handling', 'replied', 9));
    expect(Object.fromEntries(states.counts())).toEqual({ validating: 1 });
    expect(Object.fromEntries(states.finals())).toEqual({ replied: 1 });
    // b settled without a final transition seen here (it failed): forgotten, not counted as final.
    states.settled(status('b', 'retrying'));
    expect(states.size).toBe(0);
    expect(Object.fromEntries(states.counts())).toEqual({});
  });
});

describe('an envelope answered before', () => {
  it('leaves the table at its marked final transition, not counted as a new outcome', () => {
    const states = new EnvelopeStates();
    states.apply(step('a', 'queued', 'validating', 1));
    states.apply({ ...step('a', 'validating', 'replied', 2), answeredBefore: true });
    expect(states.size).toBe(0);
    expect(Object.fromEntries(states.counts())).toEqual({});
    expect(Object.fromEntries(states.finals())).toEqual({});
  });
});

describe('EnvelopeTracker on a shared table', () => {
  it('lists actors in flight with their steps and settled envelopes with their stored history, newest first, one row each', () => {
    const states = new EnvelopeStates();
    const tracker = new EnvelopeTracker({ states, capacity: 2 });
    const feed = (t: EnvelopeTransition) => {
      states.apply(t);
      tracker.transition(t);
    };
    const settle = (s: EnvelopeStatus) => {
      states.settled(s);
      tracker.settled(s);
    };
    feed(step('a', 'queued', 'validating', 1));
    feed(step('a', 'validating', 'handling', 2));
    const [inFlight] = tracker.recent();
    expect(inFlight).toMatchObject({ correlation: 'a', state: 'handling', final: false, updatedAt: new Date(2).toISOString() });
    expect(inFlight!.history.map((h) => h.state)).toEqual(['queued', 'validating', 'handling']);
    expect(tracker.counts()).toEqual({ inFlight: { handling: 1 }, finished: {} });

    feed(step('a', 'handling', 'retrying', 3));
    settle(status('a', 'retrying'));
    // Attempt 2 in flight: one row, as it is now.
    feed(step('a', 'queued', 'validating', Date.now() + 1_000, 2));
    expect(tracker.recent().map((e) => [e.correlation, e.attempt, e.state])).toEqual([['a', 2, 'validating']]);
    feed(step('a', 'validating', 'handling', Date.now() + 1_001, 2));
    feed(step('a', 'handling', 'replied', Date.now() + 1_002, 2));
    settle(status('a', 'replied', 2));
    settle(status('b', 'noFeedback'));
    settle(status('c', 'replied'));
    // Capacity 2: a went first.
    expect(tracker.recent().map((e) => [e.correlation, e.state, e.final])).toEqual([
      ['c', 'replied', true],
      ['b', 'noFeedback', true],
    ]);
    expect(tracker.recent()[0]!.history).toEqual(status('c', 'replied').history);
    expect(tracker.find('b')).toHaveLength(1);
    expect(tracker.counts()).toEqual({ inFlight: {}, finished: { retrying: 1, replied: 1 } });
  });
});

describe('envelope spans', () => {
  it('are made only while a tracer provider is registered', () => {
    const events = new EventEmitter<MailroomEvents>();
    expect(hasTracerProvider()).toBe(false);
    const exporter = new InMemorySpanExporter();
    const tracing = traceEnvelopes(events);
    const run = (correlation: string) => {
      events.emit('transition', step(correlation, 'queued', 'validating', Date.now()));
      events.emit('transition', step(correlation, 'validating', 'replied', Date.now()));
      events.emit('settled', status(correlation, 'replied'), undefined);
    };
    run('before');
    expect(trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }))).toBe(true);
    try {
      expect(hasTracerProvider()).toBe(true);
      run('after');
      const correlations = exporter.getFinishedSpans().map((s) => s.attributes['mailroom.correlation']);
      expect(correlations).toContain('after');
      expect(correlations).not.toContain('before');
    } finally {
      tracing.stop();
      trace.disable();
    }
  });
});
