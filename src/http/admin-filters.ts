/**
 * Reads the filters of the operators' list routes from a query string: `state`, `reason`,
 * `subject`, `from`, `to`, `correlation`, `since`, `until` (an ISO time, or an age like `15m`,
 * `2h`, `7d` meaning that long ago), `cursor`, `limit`. Errors name the parameter.
 */
import type { DeadLetterFilter } from '../runtime/dead-letter-query.ts';
import type { EnvelopeFilter } from '../runtime/status-query.ts';

export type FilterQuery = Partial<Record<'state' | 'reason' | 'subject' | 'from' | 'to' | 'correlation' | 'since' | 'until' | 'cursor' | 'limit', string>>;

export class FilterError extends Error {
  override readonly name = 'FilterError';
}

const AGE = /^(\d{1,9})(s|m|h|d)$/;
const UNIT_MS: Readonly<Record<string, number>> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** An ISO time or an age (`15m`: fifteen minutes ago). */
export function parseTime(name: string, raw: string | undefined, now = Date.now()): Date | undefined {
  const value = raw?.trim();
  if (!value) return undefined;
  const age = AGE.exec(value);
  if (age) return new Date(now - Number(age[1]) * UNIT_MS[age[2]!]!);
  const time = Date.parse(value);
  if (Number.isNaN(time)) throw new FilterError(`${name} is an ISO time (2026-12-03T07:00:00Z) or an age (15m, 2h, 7d), not ${JSON.stringify(value.slice(0, 100))}`);
  return new Date(time);
}

const text = (raw: string | undefined) => {
  const value = raw?.trim();
  return value ? value.slice(0, 300) : undefined;
};

function common(query: FilterQuery): DeadLetterFilter {
  const since = parseTime('since', query.since);
  const until = parseTime('until', query.until);
  const fields = { reason: text(query.reason), subject: text(query.subject), from: text(query.from), to: text(query.to), correlation: text(query.correlation), since, until };
  return Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined)) as DeadLetterFilter;
}

export function deadLetterFilter(query: FilterQuery): DeadLetterFilter {
  return common(query);
}

export function envelopeFilter(query: FilterQuery): EnvelopeFilter {
  const states = text(query.state)?.split(',').map((s) => s.trim()).filter(Boolean);
  return { ...common(query), ...(states?.length ? { states } : {}) };
}

/** `limit` as a page size (1..500, default 50). */
export function pageOptions(query: FilterQuery): { limit: number; cursor?: string } {
  const limit = Math.min(500, Math.max(1, Number(query.limit ?? 50) || 50));
  if (query.cursor !== undefined && query.cursor !== '' && !/^\d{1,15}$/.test(query.cursor)) throw new FilterError(`cursor is the "next" of the previous page, not ${JSON.stringify(query.cursor.slice(0, 100))}`);
  return { limit, ...(query.cursor ? { cursor: query.cursor } : {}) };
}

/** A filter as sent in a JSON body (bulk actions): the same fields as the query string. */
export function filterFromBody(body: unknown): FilterQuery {
  if (typeof body !== 'object' || body === null) return {};
  const out: FilterQuery = {};
  for (const key of ['reason', 'subject', 'from', 'to', 'correlation', 'since', 'until'] as const) {
    const value = (body as Record<string, unknown>)[key];
    if (typeof value === 'string') out[key] = value;
  }
  return out;
}
