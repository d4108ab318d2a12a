/**
 * What `POST /inbox` answered, as plain data: the HTTP layer records it, `Mailroom.inboxMetrics()`
 * returns it and the metrics read it. Here, below all three, so none of them imports another for it.
 */

/** Bucket upper bounds of `mailroom_inbox_request_duration_seconds`. */
export const INBOX_DURATION_BUCKETS: readonly number[] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** What the inbox answered so far: plain data, so an ingress worker thread can post it to the runtime's thread. */
export interface InboxSnapshot {
  /** `POST /inbox` answers by HTTP status code. */
  readonly codes: Readonly<Record<string, number>>;
  /** 202 answers for envelopes stored for the first time. */
  readonly accepted: number;
  /** 202 answers for an envelope posted again inside the dedupe window. */
  readonly duplicates: number;
  /** 503 answers because `inbox.maxPending` was reached. */
  readonly shed: number;
  /** Cumulative counts per bucket of {@link INBOX_DURATION_BUCKETS} (then +Inf = `count`). */
  readonly buckets: readonly number[];
  readonly sum: number;
  readonly count: number;
  /** The backlog the ingress last saw (unprocessed inbox messages), when it samples one. */
  readonly backlog?: number;
}
