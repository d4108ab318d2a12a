/**
 * The validator's verdicts on unproven envelopes (unsigned, Anonymous, wallet), as they reach it
 * from the inbox stream whatever the ingress let through (a NATS publish skips the HTTP checks):
 * handled unverified only for a public subject, claiming nothing; refused everywhere else. The
 * reference's own Anonymous vector (v08, signed with no Selector) is one of them.
 */
import { describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { decodeEnvelope } from '../../src/envelope/index.ts';
import { validateEnvelope, type ValidatorDeps } from '../../src/runtime/validator.ts';
import { createPublicEnvelopes, isPublicSubject } from '../../src/runtime/public-envelopes.ts';
import type { ReplayGuard } from '../../src/runtime/replay-guard.ts';
import { keyAForms, readVector } from '../envelope/fixtures.ts';

function depsWith(publicSubjects: Record<string, string[]>) {
  const calls = { keys: 0, claims: 0 };
  const deps: ValidatorDeps = {
    isLocalDomain: (d) => d === 'receiver.example' || d === 'receiver.example.org',
    hasHandler: (_d, subject) => subject === 'Ping@Host' || subject === 'Hello@Host',
    keys: {
      resolve: async (domain) => {
        calls.keys++;
        return domain === 'sender.example.com' ? keyAForms().pem : undefined;
      },
    },
    replay: { claim: async () => (calls.claims++, 'claimed') } as unknown as ReplayGuard,
    window: { maxSkewMs: 60_000, maxAgeMs: 300_000 },
    now: Date.now,
    isPublic: (to, subject) => isPublicSubject(publicSubjects, to, subject),
  };
  return { deps, calls };
}

const unsigned = (header: Record<string, string> = {}) =>
  decodeEnvelope(
    JSON.stringify({
      Header: { Schema: 'pollyweb.org/MSG:1.0', From: 'Anonymous', To: 'receiver.example', Subject: 'Ping@Host', Correlation: randomUUID(), Timestamp: new Date().toISOString(), ...header },
      Body: {},
    }),
  );

describe('validating unproven envelopes', () => {
  it('hands an unsigned envelope to a public subject over unverified: no key looked up, no correlation claimed', async () => {
    const { deps, calls } = depsWith({ 'receiver.example': ['Ping@Host'] });
    for (const From of ['Anonymous', '3fa85f64-5717-4562-b3fc-2c963f66afa6', 'sender.example.com']) {
      const validation = await validateEnvelope(unsigned({ From }), deps);
      expect(validation).toMatchObject({ result: { ok: true }, verified: false, holder: false, known: false });
    }
    expect(calls).toEqual({ keys: 0, claims: 0 });
  });

  it('refuses an unsigned envelope to any other subject as malformed (Hash missing), and one without a handler as unknown-subject', async () => {
    const { deps, calls } = depsWith({ 'receiver.example': ['Ping@Host', 'Nope@Host'] });
    expect(await validateEnvelope(unsigned({ Subject: 'Hello@Host', From: 'sender.example.com' }), deps)).toMatchObject({ result: { ok: false, error: { reason: 'malformed', field: 'Hash', code: 'missing' } }, verified: false });
    expect(await validateEnvelope(unsigned({ Subject: 'Nope@Host' }), deps)).toMatchObject({ result: { ok: false, error: { reason: 'unknown-subject' } }, verified: false, holder: false });
    // Public subjects still respect the freshness window.
    expect(await validateEnvelope(unsigned({ Timestamp: '2020-01-01T00:00:00.000Z' }), deps)).toMatchObject({ result: { ok: false, error: { reason: 'stale-timestamp' } } });
    expect(calls).toEqual({ keys: 0, claims: 0 });
  });

  it('takes the reference’s signed Anonymous vector (v08) as unverified for a public subject; tampered, it is refused', async () => {
    const window = { maxSkewMs: 10 * 365 * 24 * 3600_000, maxAgeMs: 10 * 365 * 24 * 3600_000 };
    const { deps } = depsWith({ 'receiver.example.org': ['Hello@Host'] });
    const v08 = readVector('valid/v08-anonymous.json');
    expect(await validateEnvelope(decodeEnvelope(v08), { ...deps, window })).toMatchObject({ result: { ok: true }, verified: false, holder: false });
    const tampered = v08.toString('utf8').replace('"ping":1', '"ping":2');
    expect(await validateEnvelope(decodeEnvelope(tampered), { ...deps, window })).toMatchObject({ result: { ok: false, error: { reason: 'hash-mismatch' } } });
    // Not public: as before, its sender has no key.
    const { deps: closed } = depsWith({});
    expect(await validateEnvelope(decodeEnvelope(v08), { ...closed, window })).toMatchObject({ result: { ok: false, error: { reason: 'key-not-found' } } });
  });

  it('verifies a signed envelope from a domain to a public subject as usual', async () => {
    const window = { maxSkewMs: 10 * 365 * 24 * 3600_000, maxAgeMs: 10 * 365 * 24 * 3600_000 };
    const { deps, calls } = depsWith({ 'receiver.example.org': ['Hello@Host'] });
    expect(await validateEnvelope(decodeEnvelope(readVector('valid/v01-basic-domain.json')), { ...deps, window })).toMatchObject({ result: { ok: true }, verified: true, holder: true });
    // A forged one is not downgraded to "unverified but public": it is discarded.
    expect(await validateEnvelope(decodeEnvelope(readVector('invalid/i05-wrong-key.json')), { ...deps, window })).toMatchObject({ result: { ok: false, error: { reason: 'bad-signature' } } });
    expect(calls.claims).toBe(1);
  });
});

describe('the rate limit of unproven envelopes', () => {
  it('limits each client, then all clients together', () => {
    let now = 0;
    const gate = createPublicEnvelopes({ subjects: { 'receiver.example': ['Ping@Host'] }, rate: 1, burst: 2, totalRate: 1, totalBurst: 3, now: () => now });
    expect([gate.admit('a'), gate.admit('a')]).toEqual([0, 0]);
    expect(gate.admit('a')).toBeGreaterThan(0);
    expect(gate.admit('b')).toBe(0);
    expect(gate.admit('c')).toBeGreaterThan(0); // the total is spent
    now += 1_000;
    expect(gate.admit('c')).toBe(0);
    expect(gate.isPublic('RECEIVER.example', 'Ping@Host')).toBe(true);
    expect(gate.isPublic('receiver.example', 'Hello@Host')).toBe(false);
    expect(gate.isPublic('__proto__', 'Ping@Host')).toBe(false);
  });
});
