/**
 * The private channel of the ingress worker: the runtime's server believes a forwarded peer
 * only with the per-process secret, and the header never reaches a route.
 */
import { describe, expect, it } from 'vitest';
import type { IncomingMessage } from 'node:http';
import { PEER_HEADER, takeForwardedPeer } from '../../src/http/peer-forwarding.ts';

const SECRET = 'a-secret-of-this-process-0123456789';
const request = (value: string | undefined) => ({ headers: value === undefined ? {} : { [PEER_HEADER]: value } }) as unknown as IncomingMessage;

describe('takeForwardedPeer', () => {
  it('reads the peer the worker passed on with the secret, and removes the header', () => {
    const raw = request(`${SECRET} {"a":"203.0.113.7","e":true}`);
    expect(takeForwardedPeer(raw, SECRET)).toEqual({ address: '203.0.113.7', encrypted: true });
    expect(raw.headers[PEER_HEADER]).toBeUndefined();
  });

  it('believes nothing without the exact secret (a forged header names no peer) and removes it too', () => {
    for (const value of [`${SECRET.slice(0, -1)}x {"a":"127.0.0.1"}`, `${SECRET}x {"a":"127.0.0.1"}`, ` {"a":"127.0.0.1"}`, '127.0.0.1', `${SECRET}`, `${SECRET} not-json`]) {
      const raw = request(value);
      expect(takeForwardedPeer(raw, SECRET), value).toBeUndefined();
      expect(raw.headers[PEER_HEADER]).toBeUndefined();
    }
    expect(takeForwardedPeer(request(undefined), SECRET)).toBeUndefined();
  });
});
