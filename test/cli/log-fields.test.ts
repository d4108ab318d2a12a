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
});
