/**
 * Admin routes over the envelope statuses of every process (the status bucket):
 * - `GET /envelopes` (`?state=&reason=&subject=&from=&to=&correlation=&since=&until=&cursor=&limit=`):
 *   a page, newest update first; `next` is the following page's cursor; `capped` says the scan
 *   cap stopped the search before the page filled (narrow the filter or go on with `next`).
 * - `GET /envelopes/{from}/{correlation}/detail`: the status, its history split into runs
 *   (attempts and replays), the headers and body where still stored (answers; dead letters),
 *   the reply it caused, where feedback went, its dead letters and its conversation.
 * - `POST /envelopes/outcomes` (`{"envelopes": [{"from", "correlation"}, …], "since"?: iso}`, at
 *   most 1,000): the current state of each, with counts by state (the outcome of a replay: give
 *   the replay's `at` as `since`, and a status not written since counts as `waiting`).
 */
import type { FastifyInstance, FastifyReply } from 'fastify';
import { isJson } from './admin-dead-letters.ts';
import { problem } from './public-routes.ts';
import { envelopeFilter, FilterError, pageOptions, type FilterQuery } from './admin-filters.ts';
import type { DeadLetterQuery, DeadLetterSummary } from '../runtime/dead-letter-query.ts';
import type { DeadLetterStore } from '../runtime/dead-letter-store.ts';
import type { ConversationRecord } from '../runtime/conversations.ts';
import type { EnvelopeStatus, StatusStep } from '../runtime/status-store.ts';
import type { StatusQuery } from '../runtime/status-query.ts';

export interface AdminQueryRuntime {
  readonly queries: { readonly envelopes: StatusQuery; readonly deadLetters: DeadLetterQuery };
  readonly deadLetters: Pick<DeadLetterStore, 'get'>;
  conversation(from: string, correlation: string): Promise<ConversationRecord | undefined>;
}

/** Bodies and headers shown in a detail are cut at this many characters. */
export const MAX_SHOWN = 64 * 1024;

/** One run of an envelope: its first delivery, a retry, or a replay from the dead letters. */
export interface Run {
  readonly kind: 'first' | 'retry' | 'replay';
  readonly by?: string;
  readonly steps: readonly StatusStep[];
}

/** Splits a history (which continues across retries and replays) into its runs. */
export function runsOf(history: readonly StatusStep[]): Run[] {
  const runs: { kind: Run['kind']; by?: string; steps: StatusStep[] }[] = [{ kind: 'first', steps: [] }];
  let previous: string | undefined;
  for (const step of history) {
    if (step.state === 'replayed') runs.push({ kind: 'replay', ...(step.by ? { by: step.by } : {}), steps: [] });
    else if (previous === 'retrying') runs.push({ kind: 'retry', steps: [] });
    runs.at(-1)!.steps.push(step);
    previous = step.state;
  }
  return runs.filter((run) => run.steps.length > 0);
}

/** A value as text for the page, cut at {@link MAX_SHOWN}. */
function shown(value: unknown): { text: string; chars: number; truncated: boolean } {
  const text = typeof value === 'string' ? value : JSON.stringify(value, null, 2) ?? '';
  return { text: text.slice(0, MAX_SHOWN), chars: text.length, truncated: text.length > MAX_SHOWN };
}

function decodeEnvelope(data: string): { Header?: Record<string, unknown>; Body?: unknown } | undefined {
  try {
    return JSON.parse(Buffer.from(data, 'base64').toString('utf8')) as { Header?: Record<string, unknown>; Body?: unknown };
  } catch (_) {
    return undefined;
  }
}

async function detailOf(runtime: AdminQueryRuntime, status: EnvelopeStatus) {
  const { body, ...rest } = status;
  const letters = (await runtime.queries.deadLetters.list({ from: status.from, correlation: status.correlation }, { limit: 20, scanCap: 5_000 })).deadLetters.filter(
    (l: DeadLetterSummary) => l.envelope.correlation === status.correlation,
  );
  // The envelope's own bytes are kept only while it is a dead letter; else the status's fields.
  const stored = letters[0] ? await runtime.deadLetters.get(letters[0].id) : undefined;
  const envelope = stored ? decodeEnvelope(stored.data) : undefined;
  const headers = envelope?.Header ?? { From: status.from, To: status.to, Subject: status.subject, Correlation: status.correlation, ...(status.hash ? { Hash: status.hash } : {}) };
  const shownBody = body !== undefined ? shown(body) : envelope && 'Body' in envelope ? shown(envelope.Body) : undefined;
  const reply = status.replyCorrelation ? await runtime.queries.envelopes.get(status.to, status.replyCorrelation).catch(() => undefined) : undefined;
  const conversation = await runtime.conversation(status.from, status.correlation).catch(() => undefined);
  return {
    status: rest,
    runs: runsOf(status.history),
    headers: shown(headers),
    headersFrom: envelope ? 'dead-letter' : 'status',
    ...(shownBody ? { body: { ...shownBody, from: body !== undefined ? 'status' : 'dead-letter' } } : {}),
    ...(status.replyCorrelation
      ? { reply: { from: status.to, to: status.from, correlation: status.replyCorrelation, ...(status.replySubject ? { subject: status.replySubject } : {}), ...(reply ? { state: reply.state } : {}) } }
      : {}),
    ...(status.feedback ? { feedback: status.feedback } : {}),
    deadLetters: letters,
    ...(conversation ? { conversation: { state: conversation.state, to: conversation.context.to, subject: conversation.context.subject } } : {}),
  };
}

export function registerAdminEnvelopeRoutes(app: FastifyInstance, runtime: AdminQueryRuntime): void {
  const bad = (reply: FastifyReply, error: unknown) => {
    if (error instanceof FilterError) return problem(reply, 400, 'bad-request', error.message);
    throw error;
  };
  app.get<{ Querystring: FilterQuery }>('/envelopes', async (request, reply) => {
    try {
      return await runtime.queries.envelopes.list(envelopeFilter(request.query), pageOptions(request.query));
    } catch (error) {
      return bad(reply, error);
    }
  });
  app.get<{ Params: { from: string; correlation: string } }>('/envelopes/:from/:correlation/detail', async (request, reply) => {
    const { from, correlation } = request.params;
    const status = await runtime.queries.envelopes.get(from, correlation);
    if (!status) return problem(reply, 404, 'not-found', `no envelope from ${from} with correlation ${correlation}`);
    return detailOf(runtime, status);
  });
  app.post('/envelopes/outcomes', async (request, reply) => {
    if (!isJson(request)) return problem(reply, 415, 'unsupported-media-type', 'send JSON (content-type: application/json)');
    let keys: { from: string; correlation: string }[] | undefined;
    let since = 0;
    try {
      const parsed = JSON.parse(Buffer.from((request.body as Buffer | undefined) ?? '').toString('utf8')) as { envelopes?: unknown; since?: unknown };
      if (typeof parsed.since === 'string') since = Date.parse(parsed.since) || 0;
      if (Array.isArray(parsed.envelopes) && parsed.envelopes.length <= 1000 && parsed.envelopes.every((k) => typeof k?.from === 'string' && typeof k?.correlation === 'string')) keys = parsed.envelopes as typeof keys;
    } catch (_) {
      keys = undefined;
    }
    if (!keys) return problem(reply, 400, 'bad-request', 'send JSON {"envelopes": [{"from": "…", "correlation": "…"}, …]} (at most 1000)');
    const statuses = await runtime.queries.envelopes.outcomes(keys);
    const counts: Record<string, number> = {};
    const envelopes = keys.map((key, i) => {
      const found = statuses[i];
      // Written before the replay: the old outcome, not the new one.
      const status = found && Date.parse(found.updatedAt) >= since ? found : undefined;
      const state = status?.state ?? (found ? 'waiting' : 'unknown');
      counts[state] = (counts[state] ?? 0) + 1;
      return { ...key, state, final: status?.final ?? false, attempt: status?.attempt ?? 0 };
    });
    return { counts, pending: envelopes.filter((e) => !e.final).length, envelopes };
  });
}
