/**
 * The rules behind node loss without an outage, as pure functions: which store errors are
 * worth another try within the deadline, and when the inbox stream can store (`/readyz`).
 */
import { describe, expect, it } from 'vitest';
import { JetStreamApiError, type StreamInfo } from '@nats-io/jetstream';
import { isTransientStoreError, retryWithinDeadline, withinDeadline } from '../../src/runtime/within-deadline.ts';
import { storable } from '../../src/runtime/health.ts';

const apiError = (code: number, err_code: number) => new JetStreamApiError({ code, err_code, description: `api ${err_code}` });
const named = (name: string) => Object.assign(new Error(name), { name });

describe('isTransientStoreError', () => {
  it('retries timeouts, no responders and temporary API errors; not a refusal or a closed connection', () => {
    expect(isTransientStoreError(named('TimeoutError'))).toBe(true);
    expect(isTransientStoreError(named('JetStreamNotEnabled'))).toBe(true);
    expect(isTransientStoreError(apiError(503, 10008))).toBe(true);
    expect(isTransientStoreError(apiError(400, 10054))).toBe(false);
    expect(isTransientStoreError(named('ClosedConnectionError'))).toBe(false);
  });
});

describe('withinDeadline', () => {
  it('resolves with the value after transient failures, and rejects with a refusal as the write itself would', async () => {
    let tries = 0;
    const value = await withinDeadline(async () => {
      if (++tries < 3) throw named('TimeoutError');
      return 'stored';
    });
    expect([value, tries]).toEqual(['stored', 3]);
    const refusal = apiError(400, 10071);
    await expect(withinDeadline(() => Promise.reject(refusal))).rejects.toBe(refusal);
  });
});

describe('retryWithinDeadline', () => {
  const base = { timeoutMs: 1_000, isConnected: () => true, reconnectWaitMs: 50 };

  it('tries again after transient failures, each try bounded by the time left', async () => {
    const timeouts: number[] = [];
    const result = await retryWithinDeadline(async (timeoutMs) => {
      timeouts.push(timeoutMs);
      if (timeouts.length < 3) throw named('TimeoutError');
      return 'stored';
    }, { ...base, deadline: Date.now() + 5_000 });
    expect(result).toEqual({ ok: true, value: 'stored', tries: 3 });
    expect(timeouts.every((t) => t > 0 && t <= 1_000)).toBe(true);
  });

  it('gives up at once on a refusal, and by the deadline on failures that go on', async () => {
    const refused = await retryWithinDeadline(() => Promise.reject(apiError(400, 10054)), { ...base, deadline: Date.now() + 5_000 });
    expect(refused).toMatchObject({ ok: false, tries: 1 });
    const late = await retryWithinDeadline(() => Promise.reject(named('TimeoutError')), { ...base, deadline: Date.now() + 300 });
    expect(late.ok).toBe(false);
    expect(late.tries).toBeGreaterThan(1);
  });

  it('waits a little for a lost connection, then gives up without trying', async () => {
    let tried = false;
    const result = await retryWithinDeadline(async () => (tried = true), { ...base, isConnected: () => false, deadline: Date.now() + 5_000 });
    expect(result).toMatchObject({ ok: false, tries: 0 });
    expect(tried).toBe(false);
  });
});

describe('storable (readiness of the inbox stream)', () => {
  const info = (replicas: number, cluster?: StreamInfo['cluster']) => ({ config: { num_replicas: replicas }, cluster }) as unknown as StreamInfo;
  const peer = (name: string, current: boolean, offline = false) => ({ name, current, offline, active: 0, lag: 0 });

  it('is ready with one replica, or a leader and a quorum of current replicas', () => {
    expect(storable(info(1)).ready).toBe(true);
    expect(storable(info(3, { name: 'c', leader: 'n1', replicas: [peer('n2', true), peer('n3', false, true)] })).ready).toBe(true);
  });

  it('is not ready without a leader, or with fewer than a quorum current', () => {
    expect(storable(info(3, { name: 'c', replicas: [peer('n2', true), peer('n3', true)] }))).toMatchObject({ ready: false, detail: expect.stringMatching(/no leader/) });
    expect(storable(info(3, { name: 'c', leader: 'n1', replicas: [peer('n2', false), peer('n3', true, true)] }))).toMatchObject({ ready: false, detail: expect.stringMatching(/quorum/) });
  });
});
