/**
 * The dead letters for operators: pages with filters and a cursor, counts by reason, and bulk
 * replay or purge of a filtered set. Reads `MAILROOM_DLQ` newest first with
 * {@link scanNewestFirst} (bounded by a scan cap); replays and purges go through the
 * {@link DeadLetterStore}, one letter at a time, so each keeps its own message ID and audit trail.
 */
import type { DeadLetter, DeadLetterStore } from './dead-letter-store.ts';
import type { DeadLetterRecord } from './dead-letters.ts';
import { MAX_PAGE, parseCursor } from './status-query.ts';
import { scanNewestFirst, type StoredEntry, type StreamReader } from './stream-window.ts';

export interface DeadLetterFilter {
  /** The dead letter's reason (`max-attempts`, `poison`, …) or its last failure's (`handler-timeout`). */
  readonly reason?: string;
  /** Case-insensitive substring of the envelope's Subject. */
  readonly subject?: string;
  readonly from?: string;
  readonly to?: string;
  /** A prefix of the correlation. */
  readonly correlation?: string;
  /** Dead-lettered at or after. */
  readonly since?: Date;
  /** Dead-lettered before. */
  readonly until?: Date;
}

/**
 * A dead letter as listed: no envelope bytes, and no stream or subject names (internal). `queue`
 * says where a replay puts it back: the inbox (handled again) or the outbox (delivered again).
 */
export interface DeadLetterSummary {
  readonly id: number;
  readonly reason: string;
  readonly lastState: string;
  readonly lastReason?: string;
  readonly detail: string;
  readonly attempts: number;
  readonly deadLetteredAt: string;
  readonly queue: 'inbox' | 'outbox';
  readonly history: DeadLetterRecord['history'];
  readonly envelope: DeadLetter['envelope'];
}

export interface DeadLetterPage {
  readonly deadLetters: readonly DeadLetterSummary[];
  readonly next?: string;
  readonly scanned: number;
  readonly capped: boolean;
}

/** Counts of a filtered set by reason. `upTo`: the newest id counted; a bulk action given it touches nothing newer. */
export interface DeadLetterGroups {
  readonly total: number;
  readonly groups: readonly { readonly reason: string; readonly count: number; readonly oldest: string; readonly newest: string }[];
  readonly upTo: number;
  readonly scanned: number;
  readonly capped: boolean;
}

/** What a bulk action did. `remaining`: matches left for another call (the per-call limit was reached). */
export interface BulkOutcome {
  /** When the first replay (or purge) was sent: a status written before it is not the new outcome. */
  readonly at: string;
  readonly done: readonly { readonly id: number; readonly from?: string; readonly correlation?: string; readonly queue: 'inbox' | 'outbox' }[];
  readonly failed: readonly { readonly id: number; readonly error: string }[];
  readonly scanned: number;
  readonly capped: boolean;
  readonly remaining: boolean;
}

function envelopeOf(data: string): DeadLetter['envelope'] {
  try {
    const { Header } = JSON.parse(Buffer.from(data, 'base64').toString('utf8')) as { Header?: Record<string, unknown> };
    const field = (name: string) => (typeof Header?.[name] === 'string' ? { [name.toLowerCase()]: Header[name] as string } : {});
    return { ...field('From'), ...field('To'), ...field('Subject'), ...field('Correlation') };
  } catch (_) {
    return {};
  }
}

export function matchesDeadLetter(letter: DeadLetterSummary, filter: DeadLetterFilter): boolean {
  const same = (a: string | undefined, b: string) => (a ?? '').toLowerCase() === b.toLowerCase();
  const e = letter.envelope;
  if (filter.reason && letter.reason !== filter.reason && letter.lastReason !== filter.reason) return false;
  if (filter.subject && !(e.subject ?? '').toLowerCase().includes(filter.subject.toLowerCase())) return false;
  if (filter.from && !same(e.from, filter.from)) return false;
  if (filter.to && !same(e.to, filter.to)) return false;
  if (filter.correlation && !(e.correlation ?? '').startsWith(filter.correlation)) return false;
  return true;
}

/** Bulk actions touch at most this many letters per call; the answer says when more are left. */
export const MAX_BULK = 10_000;

export class DeadLetterQuery {
  constructor(
    private readonly reader: StreamReader,
    private readonly streams: { readonly dlq: string; readonly outbox: string },
    private readonly store: Pick<DeadLetterStore, 'replay' | 'purge'>,
  ) {}

  private summary(entry: StoredEntry): DeadLetterSummary | undefined {
    let record: DeadLetterRecord;
    try {
      record = JSON.parse(Buffer.from(entry.data).toString('utf8')) as DeadLetterRecord;
    } catch (_) {
      return undefined;
    }
    return {
      id: entry.seq,
      reason: record.reason,
      lastState: record.lastState,
      ...(record.lastReason ? { lastReason: record.lastReason } : {}),
      detail: record.detail,
      attempts: record.attempts,
      deadLetteredAt: record.deadLetteredAt ?? entry.time,
      queue: record.stream === this.streams.outbox ? 'outbox' : 'inbox',
      history: record.history ?? [],
      envelope: envelopeOf(record.data),
    };
  }

  /** Visits the matching letters newest first, from `before` down, within `cap` letters read. */
  private scan(filter: DeadLetterFilter, cap: number, before: number | undefined, visit: (letter: DeadLetterSummary) => boolean) {
    const options = { cap, ...(before ? { before } : {}), ...(filter.since ? { since: filter.since } : {}), ...(filter.until ? { until: filter.until } : {}) };
    return scanNewestFirst(this.reader, this.streams.dlq, options, (entry) => {
      const letter = this.summary(entry);
      return letter && matchesDeadLetter(letter, filter) ? visit(letter) : true;
    });
  }

  async list(filter: DeadLetterFilter, options: { limit?: number; cursor?: string; scanCap?: number } = {}): Promise<DeadLetterPage> {
    const limit = Math.min(MAX_PAGE, Math.max(1, options.limit ?? 50));
    const deadLetters: DeadLetterSummary[] = [];
    const end = await this.scan(filter, options.scanCap ?? 5_000, parseCursor(options.cursor), (letter) => {
      deadLetters.push(letter);
      return deadLetters.length < limit;
    });
    return { deadLetters, scanned: end.scanned, capped: end.capped, ...(end.resumeAt !== undefined ? { next: String(end.resumeAt) } : {}) };
  }

  /** How many match, by reason (reading at most `scanCap` letters, default 50,000). */
  async groups(filter: DeadLetterFilter, options: { scanCap?: number } = {}): Promise<DeadLetterGroups> {
    const byReason = new Map<string, { reason: string; count: number; oldest: string; newest: string }>();
    let total = 0;
    let upTo = 0;
    const end = await this.scan(filter, options.scanCap ?? 50_000, undefined, (letter) => {
      total++;
      upTo = Math.max(upTo, letter.id);
      const group = byReason.get(letter.reason);
      if (!group) byReason.set(letter.reason, { reason: letter.reason, count: 1, oldest: letter.deadLetteredAt, newest: letter.deadLetteredAt });
      else {
        group.count++;
        group.oldest = letter.deadLetteredAt;
      }
      return true;
    });
    const groups = [...byReason.values()].sort((a, b) => b.count - a.count || a.reason.localeCompare(b.reason));
    return { total, groups, upTo, scanned: end.scanned, capped: end.capped };
  }

  /**
   * Replays (or purges) the letters matching `filter` with ids up to `upTo` (what the operator was
   * shown), at most {@link MAX_BULK} per call, a few at a time.
   */
  async bulk(action: 'replay' | 'purge', filter: DeadLetterFilter, upTo: number, options: { by?: string; scanCap?: number } = {}): Promise<BulkOutcome> {
    const chosen: DeadLetterSummary[] = [];
    let remaining = false;
    const end = await this.scan(filter, options.scanCap ?? 50_000, upTo + 1, (letter) => {
      if (chosen.length >= MAX_BULK) {
        remaining = true;
        return false;
      }
      chosen.push(letter);
      return true;
    });
    const at = new Date().toISOString();
    const done: BulkOutcome['done'][number][] = [];
    const failed: BulkOutcome['failed'][number][] = [];
    const one = async (letter: DeadLetterSummary) => {
      try {
        const ok = action === 'replay' ? (await this.store.replay(letter.id, options.by ? { by: options.by } : {})) !== undefined : (await this.store.purge(letter.id)) > 0;
        if (ok) done.push({ id: letter.id, ...(letter.envelope.from ? { from: letter.envelope.from } : {}), ...(letter.envelope.correlation ? { correlation: letter.envelope.correlation } : {}), queue: letter.queue });
        else failed.push({ id: letter.id, error: 'gone (replayed or purged meanwhile)' });
      } catch (error) {
        failed.push({ id: letter.id, error: error instanceof Error ? error.message : String(error) });
      }
    };
    for (let i = 0; i < chosen.length; i += 16) await Promise.all(chosen.slice(i, i + 16).map(one));
    return { at, done, failed, scanned: end.scanned, capped: end.capped, remaining: remaining || end.capped };
  }
}
