/**
 * The fields log lines carry: `trace_id` on every line written while traced work runs, and the
 * correlations of an outbox message read from its message ID (a reply's, the discarded
 * envelope's for Feedback@Buffer).
 */
import { describe, expect, it } from 'vitest';
import { headers } from '@nats-io/transport-node';
import { createLogger } from '../../src/observability/logger.ts';
import { outboxLogFields, runWithTrace, traceContextOf } from '../../src/runtime/trace-context.ts';
import { messageIds } from '../../src/transport/names.ts';
import { EventEmitter } from 'node:events';
import { logEnvelopes } from '../../src/observability/envelope-logging.ts';
import type { MailroomEvents } from '../../src/core/mailroom-types.ts';

const TRACE = '0af7651916cd43dd8448eb211c80319c';

function capture() {
  const lines: Record<string, unknown>[] = [];
  const logger = createLogger({ format: 'json', destination: { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) } });
  return { logger, lines };
}

describe('log fields', () => {
  it('trace_id on every line inside runWithTrace, across awaits; none outside', async () => {
    const { logger, lines } = capture();
    const trace = traceContextOf(`00-${TRACE}-b7ad6b7169203331-01`);
    await runWithTrace(trace, async () => {
      logger.info('before');
      await new Promise((resolve) => setTimeout(resolve, 1));
      logger.error({ context: 'handler' }, 'after an await');
    });
    logger.info('outside');
    expect(lines.map((l) => [l.msg, l.trace_id])).toEqual([
      ['before', TRACE],
      ['after an await', TRACE],
      ['outside', undefined],
    ]);
  });

  it('outbox messages: kind and correlation from the message ID, the discarded correlation for feedback, the trace id', () => {
    const reply = headers();
    reply.set('Nats-Msg-Id', messageIds.reply('orders.example', 'c-42'));
    reply.set('traceparent', `00-${TRACE}-b7ad6b7169203331-01`);
    expect(outboxLogFields(reply)).toEqual({ kind: 'reply', correlation: 'c-42', trace_id: TRACE });
    const feedback = headers();
    feedback.set('Nats-Msg-Id', messageIds.feedback('orders.example', 'c-7', 'ab'.repeat(32)));
    expect(outboxLogFields(feedback)).toEqual({ kind: 'feedback', feedbackFor: 'c-7' });
    expect(outboxLogFields(undefined)).toEqual({});
  });

  it('a Feedback@Buffer line names the discarded envelope it is about; a delivery line its kind and correlation', () => {
    const { logger, lines } = capture();
    logger.level = 'debug';
    const events = new EventEmitter<MailroomEvents>();
    const stop = logEnvelopes(events, logger);
    events.emit('settled', {
      from: 'shop.example', to: 'buffer.example', subject: 'Feedback@Buffer', correlation: 'fb-1', state: 'replied', final: true, attempt: 1, history: [], updatedAt: 'now',
      body: { Sender: 'orders.example', Correlation: 'c-7', Status: 'Discarded', Reason: 'Unknown subject.' },
    } as never, undefined);
    events.emit('delivered', { from: 'shop.example', to: 'orders.example', local: true, kind: 'reply', correlation: 'c-42' });
    stop();
    expect(lines[0]).toMatchObject({ feedbackFor: 'c-7', correlation: 'fb-1' });
    expect(lines[0]!.msg).toContain('(feedback about c-7)');
    expect(lines[1]).toMatchObject({ kind: 'reply', correlation: 'c-42' });
    expect(lines[1]!.msg).toBe('delivered shop.example → orders.example reply c-42 (local)');
  });
});
