/** The inbox over HTTPS when the config names a certificate and key. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { request } from 'node:https';
import { join } from 'node:path';
import { startNatsServer, type NatsServerHandle } from '../support/nats-server.ts';
import { makeFixture } from '../support/runtime-fixture.ts';
import { parseConfig } from '../../src/config/index.ts';
import { startMailroom } from '../../src/mailroom/start-mailroom.ts';
import type { Mailroom } from '../../src/core/mailroom-types.ts';

const hasOpenssl = (() => {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch (_) {
    return false;
  }
})();

let server: NatsServerHandle;
let mailroom: Mailroom;
let worker: Mailroom;
let ca: Buffer;
let signed: string;
const TOKEN = 'tls-admin-token-0123456789';

beforeAll(async () => {
  if (!hasOpenssl) return;
  server = await startNatsServer();
  const fixture = await makeFixture({ natsUrl: server.url, local: ['shop.example'], remote: ['orders.example'] });
  const cert = join(fixture.dir, 'cert.pem');
  const key = join(fixture.dir, 'key.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ed25519', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
  ca = await readFile(cert);
  const config = parseConfig({ ...fixture.input, http: { port: 0, tls: { cert, key } } }, { baseDir: fixture.dir, env: {} });
  mailroom = await startMailroom(config, { handlers: { 'shop.example': { 'Hello@Host': () => ({ ok: true }) } } });
  // The same behind the ingress worker thread, which terminates TLS and passes admin requests on.
  const workerConfig = parseConfig({ ...fixture.input, nats: { url: server.url, prefix: `${fixture.prefix}w` }, http: { port: 0, tls: { cert, key }, adminTokens: [TOKEN] } }, { baseDir: fixture.dir, env: {} });
  worker = await startMailroom(workerConfig, { ingress: 'worker', handlers: { 'shop.example': { 'Hello@Host': () => ({ ok: true }) } } });
  signed = fixture.domains['orders.example']!.signed({ To: 'shop.example', Subject: 'Hello@Host' });
});
afterAll(async () => {
  await worker?.stop();
  await mailroom?.stop();
  await server?.stop();
});

const call = (url: string, method: string, headers: Record<string, string>, body?: string) =>
  new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = request(url, { method, ca, headers }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });

describe.skipIf(!hasOpenssl)('HTTPS inbox', () => {
  it('serves the inbox over TLS with the configured certificate', async () => {
    expect(mailroom.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const { status, body } = await call(`${mailroom.url}/inbox`, 'POST', { 'content-type': 'application/json' }, signed);
    expect(status).toBe(202);
    expect(JSON.parse(body)).toMatchObject({ state: 'queued' });
  });

  it('serves it over TLS from the ingress worker too, and admin routes through it (their own origin is https)', async () => {
    expect(worker.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const { status, body } = await call(`${worker.url}/inbox`, 'POST', { 'content-type': 'application/json' }, signed);
    expect(status).toBe(202);
    expect(JSON.parse(body)).toMatchObject({ state: 'queued', status: expect.stringMatching(/^https:/) });
    const origin = new URL(worker.url!).origin;
    expect((await call(`${worker.url}/stats`, 'GET', { authorization: `Bearer ${TOKEN}`, origin })).status).toBe(200);
    expect((await call(`${worker.url}/stats`, 'GET', { authorization: `Bearer ${TOKEN}`, origin: origin.replace('https:', 'http:') })).status).toBe(403);
    expect((await call(`${worker.url}/stats`, 'GET', {})).status).toBe(401);
  });
});
