/**
 * Lists envelope statuses from the status bucket (every process's, not one process's memory),
 * newest update first, a page at a time, filtered by state, reason, subject, sender, recipient,
 * correlation and time. Reads the bucket's stream with {@link scanNewestFirst}; one status per
 * key is stored (history 1), so each message read is an envelope's latest status.
 */
import type { EnvelopeStatus, StatusStore } from './status-store.ts';
import { scanNewestFirst, type StreamReader } from './stream-window.ts';

/** What a page may be filtered by. Every given field must match. */
export interface EnvelopeFilter {
  /** States (any of them): `replied`, `deadLettered`, …; `final`/`open` match by finality. */
  readonly states?: readonly string[];
  /** Matches a discard's, a dead letter's (or its last failure's) or a retry's reason. */
  readonly reason?: string;
  /** Case-insensitive substring of the Subject. */
  readonly subject?: string;
  /** The sender's domain (exact, case-insensitive). */
  readonly from?: string;
  readonly to?: string;
  /** A prefix of the correlation. */
  readonly correlation?: string;
  /** Last updated at or after. */
  readonly since?: Date;
  /** Last updated before. */
  readonly until?: Date;
}

/** A status as listed: without the answer body; `seq` orders it. */
export type EnvelopeSummary = Omit<EnvelopeStatus, 'body'> & { readonly seq: number; readonly hasBody: boolean };

/** One page. `next`: the cursor of the following page (absent at the end). `capped`: the scan cap stopped the search before the page filled. */
export interface EnvelopePage {
  readonly envelopes: readonly EnvelopeSummary[];
  readonly next?: string;
  readonly scanned: number;
  readonly capped: boolean;
}

export interface PageOptions {
  readonly limit?: number;
  readonly cursor?: string;
  /** Stored statuses read at most for this page (default 5,000). */
  readonly scanCap?: number;
}

/** The reasons a status carries, for the `reason` filter. */
export function reasonsOf(status: Pick<EnvelopeStatus, 'discard' | 'deadLetter' | 'error'>): string[] {
  return [status.discard?.reason, status.deadLetter?.reason, status.deadLetter?.lastReason, status.error?.reason].filter((r): r is string => typeof r === 'string');
}

export function matchesEnvelope(status: EnvelopeStatus, filter: EnvelopeFilter): boolean {
  const same = (a: string | undefined, b: string) => (a ?? '').toLowerCase() === b.toLowerCase();
  if (filter.states?.length) {
    const hit = filter.states.some((s) => (s === 'final' ? status.final : s === 'open' ? !status.final : s === status.state));
    if (!hit) return false;
  }
  if (filter.reason && !reasonsOf(status).includes(filter.reason)) return false;
  if (filter.subject && !status.subject?.toLowerCase().includes(filter.subject.toLowerCase())) return false;
  if (filter.from && !same(status.from, filter.from)) return false;
  if (filter.to && !same(status.to, filter.to)) return false;
  if (filter.correlation && !status.correlation?.startsWith(filter.correlation)) return false;
  return true;
}

/** A cursor as given by a client: a positive integer, else undefined. */
export function parseCursor(cursor: string | undefined): number | undefined {
  if (cursor === undefined || cursor === '') return undefined;
  const n = Number(cursor);
  return Number.isSafeInteger(n) && n > 0 ? n : undefined;
}

export const MAX_PAGE = 500;

/** Reads pages of envelope statuses; single statuses come from the {@link StatusStore}. */
export class StatusQuery {
  constructor(
    private readonly reader: StreamReader,
    /** The status bucket's stream (`KV_<bucket>`). */
    private readonly stream: string,
    private readonly store: Pick<StatusStore, 'get'>,
  ) {}

  get(from: string, correlation: string): Promise<EnvelopeStatus | undefined> {
    return this.store.get(from, correlation);
  }

  async list(filter: EnvelopeFilter, options: PageOptions = {}): Promise<EnvelopePage> {
    const limit = Math.min(MAX_PAGE, Math.max(1, options.limit ?? 50));
    const envelopes: EnvelopeSummary[] = [];
    const before = parseCursor(options.cursor);
    const scan = { cap: options.scanCap ?? 5_000, ...(before ? { before } : {}), ...(filter.since ? { since: filter.since } : {}), ...(filter.until ? { until: filter.until } : {}) };
    const end = await scanNewestFirst(this.reader, this.stream, scan, (entry) => {
      const operation = entry.header('KV-Operation');
      if ((operation && operation !== 'PUT') || entry.data.length === 0) return true;
      let status: EnvelopeStatus;
      try {
        status = JSON.parse(Buffer.from(entry.data).toString('utf8')) as EnvelopeStatus;
      } catch (_) {
        return true;
      }
      if (!matchesEnvelope(status, filter)) return true;
      const { body, ...rest } = status;
      envelopes.push({ ...rest, seq: entry.seq, hasBody: body !== undefined });
      return envelopes.length < limit;
    });
    return { envelopes, scanned: end.scanned, capped: end.capped, ...(end.resumeAt !== undefined ? { next: String(end.resumeAt) } : {}) };
  }

  /** The latest statuses of the given envelopes (at most 1,000), for the outcome of a replay. */
  async outcomes(keys: readonly { readonly from: string; readonly correlation: string }[]): Promise<(EnvelopeStatus | undefined)[]> {
    const out: (EnvelopeStatus | undefined)[] = [];
    for (let i = 0; i < keys.length; i += 32) {
      out.push(...(await Promise.all(keys.slice(i, i + 32).map((k) => this.store.get(k.from, k.correlation).catch(() => undefined)))));
    }
    return out;
  }
}
