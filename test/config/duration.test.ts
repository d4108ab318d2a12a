import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/errors.ts';
import { parseConfig, parseDuration } from '../../src/config/index.ts';
import { catchConfigError } from './support.ts';

describe('parseDuration', () => {
  it.each([
    [250, 250],
    [0, 0],
    ['500ms', 500],
    ['30s', 30_000],
    ['1.5s', 1_500],
    ['5m', 300_000],
    ['24h', 86_400_000],
    ['1d', 86_400_000],
    ['1h30m', 5_400_000],
    [' 2s ', 2_000],
  ] as const)('%j is %d ms', (input, ms) => {
    expect(parseDuration(input)).toBe(ms);
  });

  it.each(['30', '5x', 'm', '', '-1s', '1.5ms', '5 m', '1s2', 'ms5', '1e3ms', '5M'])('refuses %j with a ConfigError', (input) => {
    expect(() => parseDuration(input)).toThrow(ConfigError);
  });

  it.each([-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY])('refuses the number %d', (input) => {
    expect(() => parseDuration(input)).toThrow(ConfigError);
  });

  it('says a bare number string lacks a unit', () => {
    expect(() => parseDuration('30')).toThrow(/no unit/);
  });
});

describe('durations in the config', () => {
  it('are milliseconds under names ending in Ms', () => {
    const config = parseConfig({
      validation: { maxSkew: '1m', maxAge: 'off', replayWindow: 3_600_000 },
      delivery: { ackWait: '45s', retry: { initialDelay: '200ms', maxDelay: '10s' } },
      keys: { dns: { timeout: '1500ms', cacheTtl: '1h' } },
    });
    expect(config.validation).toMatchObject({ maxSkewMs: 60_000, maxAgeMs: null, replayWindowMs: 3_600_000 });
    expect(config.delivery.ackWaitMs).toBe(45_000);
    expect(config.delivery.retry).toEqual({ initialDelayMs: 200, maxDelayMs: 10_000, multiplier: 2 });
    expect(config.keys.dns).toMatchObject({ timeoutMs: 1_500, cacheTtlMs: 3_600_000 });
  });

  it('name the field of a bad duration', () => {
    const error = catchConfigError(() => parseConfig({ delivery: { ackWait: '30 seconds' }, validation: { maxAge: true } }));
    expect(error.issues.map((issue) => issue.path)).toEqual(['validation.maxAge', 'delivery.ackWait']);
    expect(error.issues[1]?.message).toMatch(/"30 seconds" is not a duration/);
    expect(error.message).toContain('delivery.ackWait: "30 seconds" is not a duration');
  });

  it('refuse a zero ackWait and a retry whose first delay exceeds its cap', () => {
    const error = catchConfigError(() =>
      parseConfig({ delivery: { ackWait: 0 }, outbox: { retry: { initialDelay: '10m', maxDelay: '5m' } } }),
    );
    expect(error.issues.map((issue) => issue.path)).toEqual(['delivery.ackWait', 'outbox.retry.initialDelay']);
  });
});

