import { rejected, ok, type Result } from './types.ts';

/** How far an envelope's Timestamp may be from now. `maxAgeMs: undefined` turns the staleness check off. */
export interface TimestampWindow {
  readonly maxAgeMs?: number;
  readonly maxSkewMs: number;
}

/**
 * Checks a (schema-valid) Timestamp against the window: older than `maxAgeMs` is
 * `stale-timestamp`, later than `maxSkewMs` ahead of `now` is `future-timestamp`.
 */
export function checkTimestamp(timestamp: string, now: number, window: TimestampWindow): Result<number> {
  const at = Date.parse(timestamp);
  if (Number.isNaN(at)) return rejected('malformed', `Timestamp ${timestamp} is not a date`, { field: 'Header.Timestamp' });
  if (at - now > window.maxSkewMs) {
    return rejected('future-timestamp', `Timestamp ${timestamp} is ${Math.round((at - now) / 1000)}s in the future (allowed skew ${Math.round(window.maxSkewMs / 1000)}s)`);
  }
  if (window.maxAgeMs !== undefined && now - at > window.maxAgeMs) {
    return rejected('stale-timestamp', `Timestamp ${timestamp} is ${Math.round((now - at) / 1000)}s old (allowed ${Math.round(window.maxAgeMs / 1000)}s)`);
  }
  return ok(at);
}
