import { ConfigError } from '../errors.ts';

const UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
const PART = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/y;

/** A duration as written in `mailroom.yaml`: milliseconds, or a string such as `500ms`, `30s`, `1h30m`. */
export type DurationInput = number | string;

/**
 * Reads a duration without throwing: the milliseconds, or a message saying what is wrong.
 * @internal
 */
export function readDuration(input: unknown): { ms: number } | { error: string } {
  if (typeof input === 'number') {
    if (!Number.isSafeInteger(input) || input < 0) return { error: `expected a whole number of milliseconds ≥ 0, got ${input}` };
    return { ms: input };
  }
  if (typeof input !== 'string') return { error: `expected a duration (milliseconds, or a string like 500ms, 30s, 5m, 24h, 1d), got ${typeof input}` };
  const text = input.trim();
  if (text === '') return { error: 'empty duration' };
  if (/^\d+(?:\.\d+)?$/.test(text)) return { error: `"${input}" has no unit: write ${text}ms, ${text}s, ${text}m, ${text}h or ${text}d (or a bare number for milliseconds)` };
  let ms = 0;
  PART.lastIndex = 0;
  while (PART.lastIndex < text.length) {
    const at = PART.lastIndex;
    const match = PART.exec(text);
    if (!match || match.index !== at) return { error: `"${input}" is not a duration: use a number and a unit (ms, s, m, h, d), e.g. 500ms, 30s, 5m, 1h30m` };
    ms += Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS];
  }
  if (!Number.isSafeInteger(ms)) {
    return { error: Number.isInteger(ms) ? `"${input}" is too long` : `"${input}" is not a whole number of milliseconds` };
  }
  return { ms };
}

/**
 * Parses a duration into milliseconds. A number is taken as milliseconds; a string is one
 * or more `<number><unit>` parts with unit `ms`, `s`, `m`, `h` or `d` (`500ms`, `30s`,
 * `1.5s`, `5m`, `24h`, `1d`, `1h30m`). A string without a unit is refused, because
 * `"30"` is too easily meant as seconds.
 *
 * @example
 * parseDuration('5m'); // 300000
 * parseDuration(250);  // 250
 * @throws ConfigError when the input is not a duration
 */
export function parseDuration(input: DurationInput): number {
  const result = readDuration(input);
  if ('error' in result) throw new ConfigError(`invalid duration: ${result.error}`, [{ path: '$', message: result.error }]);
  return result.ms;
}
