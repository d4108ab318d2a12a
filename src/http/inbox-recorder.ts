import type { FastifyInstance } from 'fastify';
import { INBOX_DURATION_BUCKETS, type InboxSnapshot } from '../core/inbox-snapshot.ts';

export { INBOX_DURATION_BUCKETS, type InboxSnapshot } from '../core/inbox-snapshot.ts';

/**
 * Counts `POST /inbox` answers and times them (from the request's arrival to the response
 * sent), wherever the inbox runs: the runtime's thread, or the ingress worker thread.
 */
export class InboxRecorder {
  readonly #codes: Record<string, number> = {};
  readonly #buckets = INBOX_DURATION_BUCKETS.map(() => 0);
  #accepted = 0;
  #duplicates = 0;
  #shed = 0;
  #sum = 0;
  #count = 0;

  /** One answer: its status code, its duration in seconds, and what kind of 202 or 503 it was. */
  observe(code: number, seconds: number, kind?: 'accepted' | 'duplicate' | 'shed'): void {
    this.#codes[code] = (this.#codes[code] ?? 0) + 1;
    if (kind === 'accepted') this.#accepted++;
    else if (kind === 'duplicate') this.#duplicates++;
    else if (kind === 'shed') this.#shed++;
    for (let i = 0; i < INBOX_DURATION_BUCKETS.length; i++) if (seconds <= INBOX_DURATION_BUCKETS[i]!) this.#buckets[i]!++;
    this.#sum += seconds;
    this.#count++;
  }

  snapshot(backlog?: number): InboxSnapshot {
    return { codes: { ...this.#codes }, accepted: this.#accepted, duplicates: this.#duplicates, shed: this.#shed, buckets: [...this.#buckets], sum: this.#sum, count: this.#count, ...(backlog !== undefined ? { backlog } : {}) };
  }
}

/** The kind of an inbox answer, noted by the route for {@link recordInbox}. */
const kinds = new WeakMap<object, 'accepted' | 'duplicate' | 'shed'>();
export const noteInboxAnswer = (raw: object, kind: 'accepted' | 'duplicate' | 'shed') => kinds.set(raw, kind);

/** Times every `POST /inbox` of `app` into `recorder`, from arrival to the response sent. */
export function recordInbox(app: FastifyInstance, recorder: InboxRecorder): void {
  const started = new WeakMap<object, number>();
  app.addHook('onRequest', async (request) => {
    if (request.method === 'POST' && request.routeOptions.url === '/inbox') started.set(request.raw, performance.now());
  });
  app.addHook('onResponse', async (request, reply) => {
    const t0 = started.get(request.raw);
    if (t0 === undefined) return;
    recorder.observe(reply.statusCode, (performance.now() - t0) / 1000, kinds.get(request.raw));
  });
}
