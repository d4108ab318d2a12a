import { describe, expect, it } from 'vitest';
import { jittered, nak, withJitter, ACK, TERM } from '../../src/runtime/disposition.ts';

describe('jitter', () => {
  it('keeps a retry delay within [delay/2, delay]', () => {
    expect(jittered(1_000, () => 0)).toBe(500);
    expect(jittered(1_000, () => 1)).toBe(1_000);
    expect(jittered(0, () => 0.5)).toBe(0);
    for (let i = 0; i < 100; i++) {
      const d = jittered(800);
      expect(d).toBeGreaterThanOrEqual(400);
      expect(d).toBeLessThanOrEqual(800);
    }
  });

  it('applies only to naks', () => {
    expect(withJitter(nak(1_000), () => 0)).toEqual({ kind: 'nak', delayMs: 500 });
    expect(withJitter(ACK)).toBe(ACK);
    expect(withJitter(TERM)).toBe(TERM);
  });
});
