/** Completion callbacks: the final status POSTed to the URL the sender named, once, durably. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:http';
import { startNatsServer, type NatsServerHandle } from '../support/nats-server.ts';
import { makeFixture, type Fixture } from '../support/runtime-fixture.ts';
import { waitFor } from '../support/wait-for.ts';
import { startMailroom } from '../../src/mailroom/start-mailroom.ts';
import type { Mailroom } from '../../src/core/mailroom-types.ts';
import type { EnvelopeStatus } from '../../src/runtime/status-store.ts';

let server: NatsServerHandle;
let sink: Server;
let sinkUrl: string;
const calls: { path: string; status: EnvelopeStatus; key?: string }[] = [];

beforeAll(async () => {
  server = await startNatsServer();
  sink = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      calls.push({ path: req.url ?? '', status: JSON.parse(body) as EnvelopeStatus, key: req.headers['idempotency-key'] as string | undefined });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => sink.listen(0, '127.0.0.1', () => resolve()));
  sinkUrl = `http://127.0.0.1:${(sink.address() as { port: number }).port}`;
});
afterAll(async () => {
  sink?.close();
  await server?.stop();
});

async function runtime(allowPrivateNetworks: boolean): Promise<{ fixture: Fixture; mailroom: Mailroom }> {
  const fixture = await makeFixture({ natsUrl: server.url, local: ['shop.example'], remote: ['orders.example'], extra: { outbox: { allowPrivateNetworks, maxAttempts: 2, retry: { initialDelay: 20, maxDelay: 50 } } } });
  const mailroom = await startMailroom(fixture.config, { handlers: { 'shop.example': { 'Hello@Host': () => ({ hi: true }) } }, onError: () => undefined });
  return { fixture, mailroom };
}

const post = (mailroom: Mailroom, body: string, query = '', headers: Record<string, string> = {}) =>
  fetch(`${mailroom.url}/inbox${query}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });

describe('completion callbacks', () => {
  it('POSTs the final status to ?callback= (and to the Mailroom-Callback header), once each', async () => {
    const { fixture, mailroom } = await runtime(true);
    try {
      const orders = fixture.domains['orders.example']!;
      const a = orders.sign({ To: 'shop.example', Subject: 'Hello@Host' });
      const b = orders.sign({ To: 'shop.example', Subject: 'Nope@Host' });
      expect((await post(mailroom, JSON.stringify(a), `?callback=${encodeURIComponent(`${sinkUrl}/done/a`)}`)).status).toBe(202);
      expect((await post(mailroom, JSON.stringify(b), '', { 'mailroom-callback': `${sinkUrl}/done/b` })).status).toBe(202);
      const callA = await waitFor(() => calls.find((c) => c.path === '/done/a'));
      const callB = await waitFor(() => calls.find((c) => c.path === '/done/b'));
      expect(callA.status).toMatchObject({ correlation: a.Header.Correlation, state: 'replied', final: true });
      expect(callB.status).toMatchObject({ correlation: b.Header.Correlation, state: 'noFeedback', discard: { reason: 'unknown-subject' } });
      expect(calls.filter((c) => c.path === '/done/a')).toHaveLength(1);
      // Idempotency-Key: the callback's deterministic message ID (sender, correlation, the envelope's Hash).
      expect(callA.key).toBe(`callback/orders.example/${a.Header.Correlation}/${a.Hash}`);
      expect(callB.key).toBe(`callback/orders.example/${b.Header.Correlation}/${b.Hash}`);
    } finally {
      await mailroom.stop();
    }
  });

  it('never calls back for an envelope whose signature did not verify: nothing unverified makes the runtime POST', async () => {
    const { fixture, mailroom } = await runtime(true);
    try {
      const orders = fixture.domains['orders.example']!;
      const forged = orders.sign({ To: 'shop.example', Subject: 'Hello@Host', Body: { n: 1 } });
      const tampered = { ...forged, Body: { n: 2 } };
      const genuine = orders.sign({ To: 'shop.example', Subject: 'Hello@Host' });
      const settled: EnvelopeStatus[] = [];
      mailroom.events.on('settled', (status) => settled.push(status));
      expect((await post(mailroom, JSON.stringify(tampered), `?callback=${encodeURIComponent(`${sinkUrl}/forged`)}`)).status).toBe(202);
      await waitFor(() => settled.find((s) => s.correlation === forged.Header.Correlation && s.final), { what: 'the forged envelope discarded' });
      // A genuine one behind it, with a callback: once it is called, the forged one's would have been too.
      expect((await post(mailroom, JSON.stringify(genuine), `?callback=${encodeURIComponent(`${sinkUrl}/genuine`)}`)).status).toBe(202);
      await waitFor(() => calls.find((c) => c.path === '/genuine'), { what: 'the genuine callback' });
      expect(settled.find((s) => s.correlation === forged.Header.Correlation)).toMatchObject({ state: 'noFeedback', discard: { reason: 'hash-mismatch' } });
      expect(calls.filter((c) => c.path === '/forged')).toHaveLength(0);
    } finally {
      await mailroom.stop();
    }
  });

  it('refuses a malformed callback with 400, and a callback to a private address is never called', async () => {
    const { fixture, mailroom } = await runtime(false);
    try {
      const orders = fixture.domains['orders.example']!;
      const bad = await post(mailroom, orders.signed({ To: 'shop.example', Subject: 'Hello@Host' }), '?callback=ftp%3A%2F%2Fx');
      expect(bad.status).toBe(400);
      expect(((await bad.json()) as { error: string }).error).toBe('bad-callback');
      const before = calls.length;
      const envelope = orders.sign({ To: 'shop.example', Subject: 'Hello@Host' });
      expect((await post(mailroom, JSON.stringify(envelope), `?callback=${encodeURIComponent(`${sinkUrl}/private`)}`)).status).toBe(202);
      // (The reply to orders.example, unreachable by convention, is dead-lettered too: look for the callback's.)
      const letter = await waitFor(async () => (await mailroom.deadLetters.list()).find((l) => l.lastState === 'delivering' && /not a public address/.test(l.detail)), { what: 'the refused callback dead-lettered' });
      expect(letter).toMatchObject({ reason: 'final-error', attempts: 1 });
      expect(letter.detail).toContain('127.0.0.1');
      expect(calls.length).toBe(before);
    } finally {
      await mailroom.stop();
    }
  });
});
