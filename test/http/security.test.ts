/**
 * HTTP security (issue 12, observations 1, 2 and the HTTP bounds of 9): no anonymous signing,
 * every admin route behind a bearer token (or loopback with no token configured), no
 * cross-origin browser requests, the `http.sendAs` allow-list, capability status URLs, the
 * separate admin listener, audit entries, the body read timeout and a /readyz that fails when
 * the inbox cannot store.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect as connectTcp, type Socket } from 'node:net';
import { networkInterfaces } from 'node:os';
import { jetstreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { startNatsServer, type NatsServerHandle } from '../support/nats-server.ts';
import { makeFixture, type Fixture } from '../support/runtime-fixture.ts';
import { waitFor } from '../support/wait-for.ts';
import { startMailroom } from '../../src/mailroom/start-mailroom.ts';
import type { Mailroom } from '../../src/core/mailroom-types.ts';
import { startObservability, type Observability } from '../../src/observability/observability.ts';
import { connectNats } from '../../src/transport/connect.ts';
import type { AuditEntry } from '../../src/http/admin-auth.ts';
import { PEER_HEADER } from '../../src/http/peer-forwarding.ts';
import { statusSecret, statusPath } from '../../src/http/status-capability.ts';
import type { NatsConnection } from '@nats-io/transport-node';

const TOKEN_A = 'token-a-0123456789abcdef';
const TOKEN_B = 'token-b-fedcba9876543210';
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const json = { 'content-type': 'application/json' };

let server: NatsServerHandle;
let nc: NatsConnection;
const stops: (() => Promise<void>)[] = [];

beforeAll(async () => {
  server = await startNatsServer();
  nc = await connectNats({ url: server.url, name: 'security-test' });
});
afterAll(async () => {
  for (const stop of stops.reverse()) await stop().catch(() => undefined);
  await nc?.close();
  await server?.stop();
});

async function outboxMessages(fixture: Fixture, mailroom: Mailroom): Promise<number> {
  const jsm = await jetstreamManager(nc);
  void fixture;
  return (await jsm.streams.info(mailroom.names.streams.outbox)).state.messages;
}

async function startRuntime(http: Record<string, unknown>, options: { ingress: 'inline' | 'worker'; observability?: boolean; natsUrl?: string; audit?: AuditEntry[] }) {
  const fixture = await makeFixture({ natsUrl: options.natsUrl ?? server.url, local: ['orders.example', 'shop.example'], remote: ['partner.example'], extra: { http: { port: 0, ...http } } });
  const observability: Observability | undefined = options.observability ? await startObservability({ tracing: false }) : undefined;
  const mailroom = await startMailroom(fixture.config, {
    ...(observability?.mailroomOptions ?? {}),
    handlers: { 'shop.example': { 'Hello@Host': ({ body }) => ({ echo: body }) } },
    outboxWorker: false,
    ingress: options.ingress,
    onError: () => undefined,
    ...(options.audit ? { onAudit: (entry: AuditEntry) => options.audit!.push(entry) } : {}),
  });
  observability?.attach(mailroom);
  stops.push(async () => {
    await mailroom.stop();
    await observability?.stop();
  });
  return { fixture, mailroom };
}

/** Every admin route, with a request that reaches it. */
const ADMIN_ROUTES: readonly { method: string; path: string; body?: unknown }[] = [
  { method: 'GET', path: '/envelopes/partner.example/c-1' },
  { method: 'GET', path: '/dead-letters' },
  { method: 'GET', path: '/dead-letters/1' },
  { method: 'POST', path: '/dead-letters/1/replay' },
  { method: 'DELETE', path: '/dead-letters/1' },
  { method: 'DELETE', path: '/dead-letters' },
  { method: 'GET', path: '/stats' },
  { method: 'GET', path: '/conversations/orders.example/c-1' },
  { method: 'POST', path: '/conversations', body: { from: 'orders.example', to: 'shop.example', subject: 'Hello@Host' } },
  { method: 'GET', path: '/workflows' },
  { method: 'GET', path: '/workflows/w-1' },
  { method: 'POST', path: '/workflows', body: { name: 'order' } },
  { method: 'POST', path: '/workflows/w-1/events', body: { type: 'go' } },
  { method: 'POST', path: '/workflows/w-1/cancel', body: {} },
  { method: 'POST', path: '/workflows/w-1/resume', body: {} },
  { method: 'GET', path: '/metrics' },
  { method: 'GET', path: '/dashboard/api/config' },
  { method: 'GET', path: '/dashboard/api/state' },
  { method: 'GET', path: '/dashboard/api/envelopes?correlation=c-1' },
  { method: 'GET', path: '/dashboard/api/stream' },
  { method: 'GET', path: '/no-such-route' },
];

const call = (base: string, route: { method: string; path: string; body?: unknown }, headers: Record<string, string> = {}) =>
  fetch(`${base}${route.path}`, {
    method: route.method,
    headers: { ...headers, ...(route.body !== undefined ? json : {}) },
    ...(route.body !== undefined ? { body: JSON.stringify(route.body) } : {}),
  });

/** A non-loopback IPv4 address of this machine, if it has one. */
const outsideAddress = Object.values(networkInterfaces())
  .flat()
  .find((a) => a && a.family === 'IPv4' && !a.internal)?.address;

function rawRequest(port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket: Socket = connectTcp(port, '127.0.0.1', () => socket.write(text));
    let answer = '';
    socket.on('data', (chunk: Buffer) => (answer += chunk.toString('utf8')));
    socket.on('close', () => resolve(answer));
    socket.on('error', reject);
  });
}

// Every test runs against both ingress modes: the inbox on the runtime's thread, and on its own worker thread
// (which owns the public port and passes every other request on to the runtime's server).
describe.each(['inline', 'worker'] as const)('ingress: %s', (ingress) => {
  describe('with admin tokens configured', () => {
    let fixture: Fixture;
    let mailroom: Mailroom;
    const audit: AuditEntry[] = [];
    beforeAll(async () => {
      ({ fixture, mailroom } = await startRuntime({ adminTokens: [TOKEN_A, TOKEN_B], sendAs: ['orders.example'] }, { ingress, observability: true, audit }));
    });

    it('observation 1: an anonymous POST /conversations is 401 and nothing is signed or sent', async () => {
      const res = await fetch(`${mailroom.url}/conversations`, { method: 'POST', headers: json, body: JSON.stringify({ from: 'orders.example', to: 'shop.example', subject: 'Hello@Host', body: { text: 'forged' } }) });
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/);
      expect(await res.json()).toMatchObject({ error: 'unauthorized' });
      expect(await outboxMessages(fixture, mailroom)).toBe(0);
      expect(await mailroom.conversation('orders.example', 'x')).toBeUndefined();
    });

    it('observation 2: every admin route (plugins and unknown routes too) is 401 without a token or with a wrong one', async () => {
      for (const route of ADMIN_ROUTES) {
        const anonymous = await call(mailroom.url!, route);
        expect(anonymous.status, `${route.method} ${route.path}`).toBe(401);
        expect((await anonymous.json()) as unknown).toMatchObject({ error: 'unauthorized' });
        const wrong = await call(mailroom.url!, route, bearer('not-the-token-at-all'));
        expect(wrong.status, `${route.method} ${route.path} with a wrong token`).toBe(401);
        await wrong.body?.cancel();
      }
      expect(await outboxMessages(fixture, mailroom)).toBe(0);
    });

    it('answers admin routes with either token (rotation)', async () => {
      for (const token of [TOKEN_A, TOKEN_B]) {
        expect((await fetch(`${mailroom.url}/stats`, { headers: bearer(token) })).status).toBe(200);
        expect((await fetch(`${mailroom.url}/dead-letters`, { headers: bearer(token) })).status).toBe(200);
        expect((await fetch(`${mailroom.url}/workflows`, { headers: bearer(token) })).status).toBe(200);
        const metrics = await fetch(`${mailroom.url}/metrics`, { headers: bearer(token) });
        expect(metrics.status).toBe(200);
        expect(await metrics.text()).toContain('mailroom_');
        expect((await fetch(`${mailroom.url}/dashboard/api/state`, { headers: bearer(token) })).status).toBe(200);
      }
    });

    it('streams the dashboard events (Server-Sent Events) to a token holder as they come, not when the stream ends', async () => {
      const res = await fetch(`${mailroom.url}/dashboard/api/stream`, { headers: bearer(TOKEN_A) });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
      const reader = res.body!.getReader();
      let text = '';
      while (!text.includes('event: state')) text += new TextDecoder().decode((await reader.read()).value);
      await reader.cancel();
    });

    it('keeps the public routes public: /healthz, /readyz, POST /inbox, and the page shell (no data)', async () => {
      expect((await fetch(`${mailroom.url}/healthz`)).status).toBe(200);
      expect((await fetch(`${mailroom.url}/readyz`)).status).toBe(200);
      const envelope = fixture.domains['partner.example']!.signed({ To: 'shop.example', Subject: 'Hello@Host', Body: { n: 1 } });
      expect((await fetch(`${mailroom.url}/inbox`, { method: 'POST', headers: json, body: envelope })).status).toBe(202);
      const page = await fetch(`${mailroom.url}/`);
      expect(page.status).toBe(200);
      expect(page.headers.get('x-frame-options')).toBe('DENY');
    });

    it('refuses cross-origin browser requests to admin routes with 403 cross-origin, even with a token', async () => {
      const evil = await fetch(`${mailroom.url}/dead-letters`, { method: 'DELETE', headers: { ...bearer(TOKEN_A), origin: 'https://evil.example' } });
      expect(evil.status).toBe(403);
      expect(await evil.json()).toMatchObject({ error: 'cross-origin' });
      for (const site of ['cross-site', 'same-site']) {
        const res = await fetch(`${mailroom.url}/stats`, { headers: { ...bearer(TOKEN_A), 'sec-fetch-site': site } });
        expect(res.status).toBe(403);
        await res.body?.cancel();
      }
      const own = new URL(mailroom.url!).origin;
      expect((await fetch(`${mailroom.url}/stats`, { headers: { ...bearer(TOKEN_A), origin: own, 'sec-fetch-site': 'same-origin' } })).status).toBe(200);
      // No CORS anywhere: not even on the public inbox.
      const inbox = await fetch(`${mailroom.url}/inbox`, { method: 'OPTIONS', headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' } });
      expect(inbox.headers.get('access-control-allow-origin')).toBeNull();
    });

    it('signs over HTTP only as a domain of http.sendAs: others get 403 send-as-not-allowed', async () => {
      // The replies to the envelopes posted above may still arrive in the outbox: wait until it is still.
      let before = -1;
      await waitFor(async () => {
        const now = await outboxMessages(fixture, mailroom);
        const still = now === before && (await mailroom.stats()).inbox.waiting + (await mailroom.stats()).inbox.inFlight === 0;
        before = now;
        return still;
      }, { what: 'a still outbox', intervalMs: 100 });
      const refused = await fetch(`${mailroom.url}/conversations`, { method: 'POST', headers: { ...json, ...bearer(TOKEN_A) }, body: JSON.stringify({ from: 'shop.example', to: 'orders.example', subject: 'Hello@Host' }) });
      expect(refused.status).toBe(403);
      expect(await refused.json()).toMatchObject({ error: 'send-as-not-allowed' });
      expect(await outboxMessages(fixture, mailroom)).toBe(before);
      const allowed = await fetch(`${mailroom.url}/conversations`, { method: 'POST', headers: { ...json, ...bearer(TOKEN_A) }, body: JSON.stringify({ from: 'orders.example', to: 'shop.example', subject: 'Hello@Host', body: { text: 'hi' } }) });
      expect(allowed.status).toBe(202);
      const { correlation } = (await allowed.json()) as { correlation: string };
      await waitFor(async () => (await outboxMessages(fixture, mailroom)) === before + 1, { what: 'the request in the outbox' });
      expect((await mailroom.conversation('orders.example', correlation))?.state).toBe('awaitingReply');
    });

    it('hands out a capability status URL: readable without the token, 404 when tampered; the plain status URL needs the token', async () => {
      const envelope = fixture.domains['partner.example']!.sign({ To: 'shop.example', Subject: 'Hello@Host', Body: { n: 2 } });
      const { Correlation } = envelope.Header;
      const res = await fetch(`${mailroom.url}/inbox`, { method: 'POST', headers: json, body: JSON.stringify(envelope) });
      expect(res.status).toBe(202);
      const answer = (await res.json()) as { status: string };
      expect(answer.status.startsWith(`${mailroom.url}/status/partner.example/${Correlation}/`)).toBe(true);
      const status = await waitFor(async () => {
        const r = await fetch(answer.status);
        return r.status === 200 ? ((await r.json()) as { correlation: string; final: boolean }) : undefined;
      }, { what: 'the status through the capability URL' });
      expect(status.correlation).toBe(Correlation);

      const token = answer.status.slice(answer.status.lastIndexOf('/') + 1);
      const flipped = `${token.slice(0, -1)}${token.endsWith('A') ? 'B' : 'A'}`;
      expect((await fetch(`${answer.status.slice(0, -token.length)}${flipped}`)).status).toBe(404);
      // The same token for another correlation, or another hash, is worthless.
      expect((await fetch(answer.status.replace(Correlation, 'another-correlation'))).status).toBe(404);
      expect((await fetch(answer.status.replace(`/${encodeURIComponent(envelope.Hash)}/`, '/another-hash/'))).status).toBe(404);
      expect((await fetch(`${mailroom.url}/envelopes/partner.example/${Correlation}`)).status).toBe(401);
      expect((await fetch(`${mailroom.url}/envelopes/partner.example/${Correlation}`, { headers: bearer(TOKEN_A) })).status).toBe(200);
    });

    it('answers a capability URL only for the envelope with the stored hash (a forged twin cannot read the genuine status)', async () => {
      // A status stored with its Hash, as validation records it; a URL minted for another Hash of the same correlation is 404.
      const kv = await new Kvm(nc).open(mailroom.names.buckets.status);
      const correlation = 'squat-0001';
      await kv.put(mailroom.names.statusKey('partner.example', correlation), JSON.stringify({ from: 'partner.example', to: 'shop.example', subject: 'Hello@Host', correlation, hash: 'genuine-hash', state: 'replied', final: true, attempt: 1, history: [], updatedAt: new Date().toISOString() }));
      const keys = [fixture.domains['orders.example']!, fixture.domains['shop.example']!].map((d) => ({ name: d.name, key: d.privateKey.key }));
      const secret = statusSecret(undefined, keys);
      expect((await fetch(`${mailroom.url}${statusPath(secret, { from: 'partner.example', correlation, hash: 'genuine-hash' })}`)).status).toBe(200);
      expect((await fetch(`${mailroom.url}${statusPath(secret, { from: 'partner.example', correlation, hash: 'forged-hash' })}`)).status).toBe(404);
    });

    it('writes one audit entry per admin action: who (token id), peer, what, outcome; refused ones too', async () => {
      audit.length = 0;
      await fetch(`${mailroom.url}/dead-letters/999/replay`, { method: 'POST', headers: bearer(TOKEN_A) });
      await fetch(`${mailroom.url}/dead-letters`, { method: 'DELETE', headers: bearer(TOKEN_B) });
      await fetch(`${mailroom.url}/workflows/w-1/cancel`, { method: 'POST', headers: { ...json, ...bearer(TOKEN_A) }, body: '{}' });
      await fetch(`${mailroom.url}/dead-letters/7`, { method: 'DELETE' });
      const started = await fetch(`${mailroom.url}/conversations`, { method: 'POST', headers: { ...json, ...bearer(TOKEN_A) }, body: JSON.stringify({ from: 'orders.example', to: 'shop.example', subject: 'Hello@Host' }) });
      const { correlation } = (await started.json()) as { correlation: string };
      await fetch(`${mailroom.url}/stats`, { headers: bearer(TOKEN_A) }); // a read: no audit entry
      await waitFor(() => audit.length >= 5, { what: 'five audit entries' });
      const idA = (await import('../../src/http/admin-auth.ts')).tokenId(TOKEN_A);
      expect(audit).toEqual([
        { action: 'dead-letter.replay', route: 'POST /dead-letters/:id/replay', who: idA, peer: '127.0.0.1', ids: { id: '999' }, status: 404, outcome: 'failed' },
        expect.objectContaining({ action: 'dead-letter.purge-all', who: expect.stringMatching(/^token:[0-9a-f]{8}$/), status: 200, outcome: 'ok' }),
        expect.objectContaining({ action: 'workflow.cancel', ids: { workflow: 'w-1' }, status: 404, outcome: 'failed' }),
        expect.objectContaining({ action: 'dead-letter.purge', who: 'anonymous', ids: { id: '7' }, status: 401, outcome: 'denied' }),
        expect.objectContaining({ action: 'conversation.start', who: idA, ids: { from: 'orders.example', to: 'shop.example', subject: 'Hello@Host', correlation }, status: 202, outcome: 'ok' }),
      ]);
      expect(audit[1]!.who).not.toBe(idA);
    });
  });

  describe('without admin tokens: loopback only', () => {
    let mailroom: Mailroom;
    let port: number;
    beforeAll(async () => {
      ({ mailroom } = await startRuntime({ host: '0.0.0.0', readTimeout: 200 }, { ingress }));
      port = Number(new URL(mailroom.url!).port);
    });

    it('answers admin routes to a loopback peer without a token', async () => {
      expect((await fetch(`http://127.0.0.1:${port}/stats`)).status).toBe(200);
      expect((await fetch(`http://localhost:${port}/dead-letters`)).status).toBe(200);
    });

    it.skipIf(!outsideAddress)(`refuses a non-loopback peer with 403 admin-loopback-only (${outsideAddress ?? 'no non-loopback address here'})`, async () => {
      const res = await fetch(`http://${outsideAddress}:${port}/stats`);
      expect(res.status).toBe(403);
      expect(await res.json()).toMatchObject({ error: 'admin-loopback-only' });
      expect((await fetch(`http://${outsideAddress}:${port}/healthz`)).status).toBe(200);
    });

    it.skipIf(!outsideAddress)('ignores a forged forwarded-peer header from outside: still 403 admin-loopback-only, and the stream route too', async () => {
      for (const value of ['guessed-secret {"a":"127.0.0.1","e":false}', ' {"a":"127.0.0.1"}', '127.0.0.1']) {
        for (const path of ['/stats', '/dashboard/api/stream']) {
          const res = await fetch(`http://${outsideAddress}:${port}${path}`, { headers: { [PEER_HEADER]: value } });
          expect(res.status, `${path} with ${PEER_HEADER}: ${value}`).toBe(403);
          expect(await res.json()).toMatchObject({ error: 'admin-loopback-only' });
        }
      }
    });

    it('refuses a proxied request and a foreign Host (DNS rebinding) even from loopback', async () => {
      const proxied = await fetch(`http://127.0.0.1:${port}/stats`, { headers: { 'x-forwarded-for': '203.0.113.9' } });
      expect(proxied.status).toBe(403);
      expect(await proxied.json()).toMatchObject({ error: 'admin-loopback-only' });
      const answer = await rawRequest(port, `GET /stats HTTP/1.1\r\nHost: rebound.evil.example:${port}\r\nConnection: close\r\n\r\n`);
      expect(answer).toMatch(/^HTTP\/1\.1 403/);
      expect(answer).toContain('host-not-allowed');
    });

    it('observation 9: a body that dribbles in slower than http.readTimeout gets 408 request-timeout and the connection closes', async () => {
      const socket = connectTcp(port, '127.0.0.1');
      await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
      let answer = '';
      socket.on('data', (chunk: Buffer) => (answer += chunk.toString('utf8')));
      const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
      socket.on('error', () => undefined);
      socket.write(`POST /inbox HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{`);
      // One byte at a time, until the server answers and hangs up.
      const dribble = setInterval(() => {
        if (!socket.destroyed && socket.writable) socket.write(' ');
      }, 20);
      try {
        await closed;
      } finally {
        clearInterval(dribble);
      }
      expect(answer).toMatch(/^HTTP\/1\.1 408/);
      expect(answer).toContain('"error":"request-timeout"');
    });
  });

  describe('a separate admin listener (http.admin)', () => {
    let fixture: Fixture;
    let mailroom: Mailroom;
    beforeAll(async () => {
      ({ fixture, mailroom } = await startRuntime({ adminTokens: [TOKEN_A], admin: { host: '127.0.0.1', port: 0 }, metrics: 'public' }, { ingress, observability: true }));
    });

    it('serves admin routes only there (with the token), the main port only the public ones', async () => {
      expect(mailroom.adminUrl).not.toBe(mailroom.url);
      for (const path of ['/stats', '/dead-letters', '/', '/dashboard/api/state', '/workflows']) {
        const main = await fetch(`${mailroom.url}${path}`, { headers: bearer(TOKEN_A) });
        expect(main.status, `main ${path}`).toBe(404);
        await main.body?.cancel();
        const admin = await fetch(`${mailroom.adminUrl}${path}`, { headers: bearer(TOKEN_A) });
        expect(admin.status, `admin ${path}`).toBe(200);
        await admin.body?.cancel();
      }
      expect((await fetch(`${mailroom.adminUrl}/stats`)).status).toBe(401);
      const envelope = fixture.domains['partner.example']!.signed({ To: 'shop.example', Subject: 'Hello@Host', Body: {} });
      const accepted = await fetch(`${mailroom.url}/inbox`, { method: 'POST', headers: json, body: envelope });
      expect(accepted.status).toBe(202);
      const { status } = (await accepted.json()) as { status: string };
      expect(status.startsWith(`${mailroom.url}/status/`)).toBe(true);
      await waitFor(async () => (await fetch(status)).status === 200, { what: 'the capability URL on the main port' });
      expect((await fetch(`${mailroom.url}/healthz`)).status).toBe(200);
    });

    it('serves /metrics publicly with http.metrics: public', async () => {
      const res = await fetch(`${mailroom.url}/metrics`);
      expect(res.status).toBe(200);
      expect(await res.text()).toContain('mailroom_');
    });
  });

  describe('/readyz when the inbox cannot store', () => {
    it('is 503 while POST /inbox is 503, once nats-server is gone', async () => {
      const own = await startNatsServer();
      stops.push(() => own.stop());
      const { fixture, mailroom } = await startRuntime({}, { ingress, natsUrl: own.url });
      expect((await fetch(`${mailroom.url}/readyz`)).status).toBe(200);
      await own.kill('SIGKILL');
      const ready = await waitFor(async () => {
        const res = await fetch(`${mailroom.url}/readyz`);
        return res.status === 503 ? ((await res.json()) as { status: string }) : undefined;
      }, { what: '/readyz 503' });
      expect(ready.status).toBe('not-ready');
      const envelope = fixture.domains['partner.example']!.signed({ To: 'shop.example', Subject: 'Hello@Host', Body: {} });
      expect((await fetch(`${mailroom.url}/inbox`, { method: 'POST', headers: json, body: envelope })).status).toBe(503);
    });
  });
});
