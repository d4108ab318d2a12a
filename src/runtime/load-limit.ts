/**
 * How many envelopes this thread should work on at once, by what its CPU can finish: the
 * event loop's lag is sampled every 100 ms; past 50 ms the limit shrinks by a quarter (to no
 * fewer than `floor`), under 20 ms it grows back by an eighth (to `max`). Envelopes above the
 * limit wait in JetStream, not in this process: on a busy core (or a thread running at a lower
 * priority than the ingress, see `processingNice`) the backlog stays where it is durable and
 * visible, and the messages in flight are few enough to finish within their ack wait.
 */
export interface LoadLimit {
  /** The current limit, between `floor` and `max`. */
  readonly current: () => number;
  stop(): void;
}

const INTERVAL_MS = 100;
const HIGH_LAG_MS = 50;
const LOW_LAG_MS = 20;

export function startLoadLimit(max: number, floor = 16): LoadLimit {
  const least = Math.max(1, Math.min(max, floor));
  let limit = max;
  let expected = performance.now() + INTERVAL_MS;
  const timer = setInterval(() => {
    const now = performance.now();
    const lag = Math.max(0, now - expected);
    expected = now + INTERVAL_MS;
    if (lag > HIGH_LAG_MS) limit = Math.max(least, Math.floor(limit * 0.75));
    else if (lag < LOW_LAG_MS) limit = Math.min(max, limit + Math.max(1, Math.ceil(limit / 8)));
  }, INTERVAL_MS).unref();
  return { current: () => limit, stop: () => clearInterval(timer) };
}
