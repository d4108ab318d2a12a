import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createManifestRequests } from '../../src/http/manifest-route.ts';

const manifest = { '🤝': 'pollyweb.org/MANIFEST:1.0', About: { Domain: 'orders.example' } };
const request = (subject = 'Manifest@Domain', to = 'orders.example') =>
  Buffer.from(JSON.stringify({ Header: { From: 'Anonymous', To: to, Subject: subject, Correlation: randomUUID(), Timestamp: '2026-01-01T00:00:00Z', Schema: 'pollyweb.org/MSG:1.0' } }));

describe('createManifestRequests', () => {
  it('answers only a well-formed manifest request to a hosted domain', () => {
    const requests = createManifestRequests({ manifests: { 'orders.example': manifest }, maxBodyBytes: 4096 });
    const asked = request();
    expect(requests.answer(asked, 'json', 'a')).toEqual({ kind: 'manifest', manifest, request: JSON.parse(asked.toString()) });
    expect(requests.answer(request('Hello@Host'), 'json', 'a')).toBeUndefined();
    expect(requests.answer(request('Manifest@Domain', 'shop.example'), 'json', 'a')).toBeUndefined();
    expect(requests.answer(Buffer.from('{"Header":{"Subject":"Manifest@Domain","To":"orders.example"}}'), 'json', 'a')).toBeUndefined();
    expect(requests.answer(Buffer.from('Manifest@Domain {'), 'auto', 'a')).toBeUndefined();
  });

  it('limits the answers per client address', () => {
    let now = 0;
    const requests = createManifestRequests({ manifests: { 'orders.example': manifest }, maxBodyBytes: 4096, rate: 1, burst: 2, now: () => now });
    expect(requests.answer(request(), 'json', 'a')?.kind).toBe('manifest');
    expect(requests.answer(request(), 'json', 'a')?.kind).toBe('manifest');
    expect(requests.answer(request(), 'json', 'a')).toEqual({ kind: 'limited', retryAfterSeconds: 1 });
    expect(requests.answer(request(), 'json', 'b')?.kind).toBe('manifest');
    now = 1_000;
    expect(requests.answer(request(), 'json', 'a')?.kind).toBe('manifest');
  });
});
