/**
 * Reads a JetStream stream newest first, in windows, for the operators' lists (envelope statuses,
 * dead letters): JetStream reads forward only, so each window is a short-lived ephemeral consumer
 * started at the window's first sequence. The cost is bounded: a scan reads at most `cap`
 * stored messages (plus what is left of one window), whatever the filter; the caller learns
 * whether the cap stopped it and where to go on.
 * @internal
 */
import { AckPolicy, DeliverPolicy, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';

/** One stored message as a scan sees it. */
export interface StoredEntry {
  readonly seq: number;
  /** When JetStream stored it (ISO). */
  readonly time: string;
  readonly data: Uint8Array;
  readonly header: (name: string) => string | undefined;
}

export interface ScanOptions {
  /** Only messages with a sequence below this one (a page cursor). */
  readonly before?: number;
  /** Stop at messages stored before this time. */
  readonly since?: Date;
  /** Only messages stored before this time. */
  readonly until?: Date;
  /** Read at most this many stored messages. */
  readonly cap: number;
  /** Messages per window (default 256). */
  readonly window?: number;
}

/** How a scan ended. `resumeAt`: pass it as `before` to go on (absent when the stream is read to its start or to `since`). */
export interface ScanEnd {
  readonly scanned: number;
  /** True when the cap stopped the scan before the filter's range was read. */
  readonly capped: boolean;
  readonly resumeAt?: number;
}

/** Visits one entry; returns false to stop (the page is full): the scan then resumes below this entry. */
export type Visit = (entry: StoredEntry) => boolean;

/** The parts a scan reads with. */
export interface StreamReader {
  readonly js: JetStreamClient;
  readonly jsm: JetStreamManager;
}

// A short-lived consumer (memory, no acks, gone after 10 s unused even if the delete below is lost).
const consumerConfig = { ack_policy: AckPolicy.None, inactive_threshold: 10_000_000_000, mem_storage: true } as const;

/** Reads, with `consumer` (just made; `pending` messages ahead of it), up to `max` messages with sequences up to `top`, oldest first. */
async function readForward({ js }: StreamReader, stream: string, consumer: string, max: number, top: number): Promise<StoredEntry[]> {
  const messages = await (await js.consumers.get(stream, consumer)).fetch({ max_messages: max, expires: 5_000 });
  const entries: StoredEntry[] = [];
  for await (const m of messages) {
    if (m.seq > top) break;
    entries.push({ seq: m.seq, time: m.time.toISOString(), data: m.data, header: (name) => m.headers?.get(name) || undefined });
    if (entries.length >= max || m.info.pending === 0) break;
  }
  messages.stop();
  return entries;
}

/** Runs `read` with an ephemeral consumer made by `config`, when messages are ahead of it; deletes the consumer after. */
async function withConsumer<T>(reader: StreamReader, stream: string, config: Record<string, unknown>, read: (name: string, pending: number) => Promise<T>, none: T): Promise<T> {
  const info = await reader.jsm.consumers.add(stream, { ...consumerConfig, ...config });
  try {
    return info.num_pending > 0 ? await read(info.name, info.num_pending) : none;
  } finally {
    await reader.jsm.consumers.delete(stream, info.name).catch(() => undefined);
  }
}

/** The sequence of the first message stored at or after `time`. */
function firstSeqFrom(reader: StreamReader, stream: string, time: Date): Promise<number | undefined> {
  const config = { deliver_policy: DeliverPolicy.StartTime, opt_start_time: time.toISOString() };
  return withConsumer(reader, stream, config, async (name) => (await readForward(reader, stream, name, 1, Number.MAX_SAFE_INTEGER))[0]?.seq, undefined);
}

/** The messages of `[start, top]` that still exist, oldest first (at most `window`). */
function readWindow(reader: StreamReader, stream: string, start: number, top: number, window: number): Promise<StoredEntry[]> {
  const config = { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: start };
  return withConsumer(reader, stream, config, (name, pending) => readForward(reader, stream, name, Math.min(window, pending, top - start + 1), top), []);
}

/**
 * Visits the messages of `stream` newest first (within `before`, `since`, `until`) until `visit`
 * says stop, the range is read, or `cap` messages were read.
 */
export async function scanNewestFirst(reader: StreamReader, stream: string, options: ScanOptions, visit: Visit): Promise<ScanEnd> {
  let window = options.window ?? 256;
  const { state } = await reader.jsm.streams.info(stream);
  if (state.messages === 0) return { scanned: 0, capped: false };
  let top = Math.min(state.last_seq, options.before !== undefined ? options.before - 1 : Number.MAX_SAFE_INTEGER);
  if (options.until && new Date(state.last_ts) >= options.until) {
    const first = await firstSeqFrom(reader, stream, options.until);
    if (first !== undefined) top = Math.min(top, first - 1);
  }
  const since = options.since?.getTime();
  let scanned = 0;
  while (top >= state.first_seq) {
    const start = Math.max(state.first_seq, top - window + 1);
    const entries = await readWindow(reader, stream, start, top, window);
    for (let i = entries.length - 1; i >= 0; i--) {
      const entry = entries[i]!;
      if (since !== undefined && Date.parse(entry.time) < since) return { scanned, capped: false };
      scanned++;
      if (!visit(entry)) return { scanned, capped: false, resumeAt: entry.seq };
      // The cap, with more below: say so, and where to go on.
      if (scanned >= options.cap && (i > 0 || start > state.first_seq)) return { scanned, capped: true, resumeAt: entry.seq };
    }
    top = start - 1;
    // Sparse (a KV stream keeps only each key's last write): wider windows, fewer round trips.
    if (entries.length < window / 4) window = Math.min(window * 2, 8192);
  }
  return { scanned, capped: false };
}
