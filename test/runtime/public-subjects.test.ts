/**
 * Issue 17: unsigned public envelopes for subjects other than Manifest@Domain. receiver.example
 * lists `Ping@Host` in its `publicSubjects`; other.example keeps the default. A recorder plays
 * every remote domain's inbox (sender.example, claimed.example and buffer.example), so each
 * request the runtime makes because of an envelope is seen. Each refusal is tested as an
 * attacker would try it, against a real runtime (ingress on its worker thread), and each
 * "nothing happened" is checked after a positive control that does make it happen.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { startNatsServer, type NatsServerHandle } from '../support/nats-server.ts';
import { makeDomain, makeFixture, type Fixture, type TestDomain } from '../support/runtime-fixture.ts';
import { waitFor } from '../support/wait-for.ts';
import { parseConfig } from '../../src/config/index.ts';
import { startMailroom } from '../../src/mailroom/start-mailroom.ts';
import type { Mailroom } from '../../src/core/mailroom-types.ts';
import type { HandlerContext } from '../../src/runtime/handlers.ts';

let server: NatsServerHandle;
let a: Mailroom;
let fixture: Fixture;
let claimed: TestDomain;
let recorder: Server;
/** Every request the recorder got: the envelope's subject, From, To and correlation (the body's for feedback). */
const recorded: { subject: string; from: string; to: string; correlation: string; about?: string }[] = [];
const seen: Omit<HandlerContext, 'signal'>[] = [];

beforeAll(async () => {
  server = await startNatsServer();
  recorder = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const doc = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { Header: Record<string, string>; Body: Record<string, string> };
      const { Subject, From, To, Correlation } = doc.Header;
      recorded.push({ subject: Subject!, from: From!, to: To!, correlation: Correlation!, ...(doc.Body?.Correlation ? { about: doc.Body.Correlation } : {}) });
      if (Subject === 'Manifest@Domain') {
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ '🤝': 'pollyweb.org/MANIFEST:1.0', About: { Domain: To, Feedback: 'buffer.example' } }));
      } else res.writeHead(202, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => recorder.listen(0, '127.0.0.1', resolve));
  const address = recorder.address();
  const inbox = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/inbox`;
  fixture = await makeFixture({ natsUrl: server.url, local: ['receiver.example', 'other.example'], remote: ['sender.example'] });
  claimed = await makeDomain(fixture.dir, 'claimed.example');
  const input = fixture.input as { domains: Record<string, unknown>[] };
  const config = parseConfig(
    {
      ...fixture.input,
      domains: input.domains.map((d) => (d.name === 'receiver.example' ? { ...d, publicSubjects: ['Manifest@Domain', 'Ping@Host'] } : d)),
      directory: { 'sender.example': inbox, 'claimed.example': inbox, 'buffer.example': inbox },
      manifests: { 'claimed.example': { feedback: 'buffer.example' } },
      publicLimit: { rate: 1, burst: 10 },
    },
    { baseDir: fixture.dir, env: {} },
  );
  a = await startMailroom(config, { ingress: 'worker' });
  const record = (ctx: HandlerContext) => {
    const { signal: _signal, ...rest } = ctx;
    seen.push(rest);
    return { pong: true };
  };
  a.handle('receiver.example', 'Ping@Host', record);
  a.handle('other.example', 'Ping@Host', record);
  a.handle('receiver.example', 'Hello@Host', record);
});
afterAll(async () => {
  await a?.stop();
  await new Promise((resolve) => recorder?.close(resolve));
  await server?.stop();
});

/** An envelope with no Hash and no Signature. */
function unsigned(header: { From?: string; To?: string; Subject?: string; Correlation?: string; Timestamp?: string }, body: unknown = { ping: 1 }): string {
  return JSON.stringify({
    Header: { Schema: 'pollyweb.org/MSG:1.0', From: 'Anonymous', To: 'receiver.example', Subject: 'Ping@Host', Correlation: randomUUID(), Timestamp: new Date().toISOString(), ...header },
    Body: body,
  });
}
const post = (body: string) => fetch(`${a.url}/inbox`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
const settled = (from: string, correlation: string) =>
  waitFor(
    async () => {
      const s = await a.status(from, correlation);
      return s?.final ? s : undefined;
    },
    { what: `the status of ${from}/${correlation}` },
  );

describe('unsigned envelopes for public subjects', () => {
  it('stores an unsigned envelope for a public subject and hands it over unverified, and sends no reply to the sender it claims', async () => {
    const correlation = randomUUID();
    const res = await post(unsigned({ From: 'sender.example', Correlation: correlation }));
    expect(res.status).toBe(202);
    const ctx = await waitFor(() => seen.find((c) => c.correlation === correlation), { what: 'the handler ran' });
    expect(ctx).toMatchObject({ from: 'sender.example', to: 'receiver.example', subject: 'Ping@Host', verified: false, body: { ping: 1 } });
    // Settled (a one-way message: nothing to send) before the control below is even posted.
    expect(await settled('sender.example', correlation)).toMatchObject({ state: 'replied' });
    // Control: the same subject, signed by sender.example, is answered with a signed reply.
    const signedCorrelation = randomUUID();
    expect((await post(fixture.domains['sender.example']!.signed({ To: 'receiver.example', Subject: 'Ping@Host', Correlation: signedCorrelation, Body: {} }))).status).toBe(202);
    expect(await waitFor(() => seen.find((c) => c.correlation === signedCorrelation))).toMatchObject({ verified: true });
    await waitFor(() => recorded.find((r) => r.correlation === signedCorrelation), { what: 'the reply to the signed envelope' });
    expect(recorded.filter((r) => r.correlation === correlation)).toEqual([]);
  });

  it('accepts Anonymous and wallet senders, unsigned, the same way', async () => {
    const anonymous = randomUUID();
    const wallet = randomUUID();
    const walletId = randomUUID();
    expect((await post(unsigned({ Correlation: anonymous }))).status).toBe(202);
    expect((await post(unsigned({ From: walletId, Correlation: wallet }))).status).toBe(202);
    expect(await waitFor(() => seen.find((c) => c.correlation === anonymous))).toMatchObject({ from: 'Anonymous', verified: false });
    expect(await waitFor(() => seen.find((c) => c.correlation === wallet))).toMatchObject({ from: walletId, verified: false });
  });

  it('refuses an unsigned envelope for a subject that is not public, at every domain that does not list it', async () => {
    for (const envelope of [unsigned({ Subject: 'Hello@Host' }), unsigned({ From: 'sender.example', Subject: 'Hello@Host' }), unsigned({ To: 'other.example' })]) {
      const res = await post(envelope);
      expect(res.status).toBe(400);
      expect(await res.json()).toMatchObject({ error: 'malformed', field: 'Hash', code: 'missing' });
    }
  });

  it('never lets an unsigned "reply" settle a waiting conversation; the signed reply still does', async () => {
    const started = await a.startConversation({ from: 'receiver.example', to: 'sender.example', subject: 'Ping@Host', body: {}, timeoutMs: 120_000 });
    const { correlation } = started;
    await waitFor(() => recorded.find((r) => r.correlation === correlation && r.subject === 'Ping@Host'), { what: 'the request at sender.example' });
    // The forgery: the conversation's correlation, from the domain asked, unsigned, to a public subject.
    expect((await post(unsigned({ From: 'sender.example', Correlation: correlation, Subject: 'Ping@Host' })))).toMatchObject({ status: 202 });
    expect(await waitFor(() => seen.find((c) => c.correlation === correlation))).toMatchObject({ verified: false });
    expect(await a.conversation('receiver.example', correlation)).toMatchObject({ status: 'active' });
    // The genuine reply, with the same correlation: not blocked (no claim was made), it settles the conversation.
    const reply = fixture.domains['sender.example']!.signed({ To: 'receiver.example', Subject: 'Reply@Ping@Host', Correlation: correlation, Body: { pong: 'signed' } });
    expect((await post(reply)).status).toBe(202);
    const outcome = await started.outcome;
    expect(outcome).toMatchObject({ state: 'replied', reply: { body: { pong: 'signed' } } });
  });

  it('sends no feedback for a discarded unsigned envelope, even to a buffer the config names for the sender it claims', async () => {
    const stale = randomUUID();
    expect((await post(unsigned({ From: 'claimed.example', Correlation: stale, Timestamp: '2020-01-01T00:00:00.000Z' }))).status).toBe(202);
    const status = await settled('claimed.example', stale);
    expect(status).toMatchObject({ state: 'noFeedback', discard: { reason: 'stale-timestamp' } });
    expect(status.feedback).toMatch(/unsigned or from Anonymous\/a wallet/);
    // Control: a signed envelope from claimed.example that fails (its key is not trusted) does get feedback to that buffer.
    const forged = randomUUID();
    expect((await post(claimed.signed({ To: 'receiver.example', Subject: 'Ping@Host', Correlation: forged, Body: {} }))).status).toBe(202);
    await waitFor(() => recorded.find((r) => r.subject === 'Feedback@Buffer' && r.about === forged), { what: 'the control feedback' });
    expect(recorded.filter((r) => r.about === stale || r.correlation === stale)).toEqual([]);
  });

  it('never fetches a manifest for an unsigned envelope it discards', async () => {
    // sender.example has no buffer in the config: a verified discard would fetch its manifest.
    const correlation = randomUUID();
    expect((await post(unsigned({ From: 'sender.example', Correlation: correlation, Timestamp: '2020-01-01T00:00:00.000Z' }))).status).toBe(202);
    expect(await settled('sender.example', correlation)).toMatchObject({ state: 'noFeedback' });
    // Control: a verified discard (no handler for Nope@Host) does fetch it.
    const control = randomUUID();
    expect((await post(fixture.domains['sender.example']!.signed({ To: 'receiver.example', Subject: 'Nope@Host', Correlation: control, Body: {} }))).status).toBe(202);
    expect(await settled('sender.example', control)).toMatchObject({ state: 'feedbackSent' });
    expect(recorded.filter((r) => r.subject === 'Manifest@Domain')).toHaveLength(1);
  });

  it('rate-limits unsigned envelopes per client, apart from signed traffic', async () => {
    // publicLimit: 1 a second, 10 at once per client: the earlier tests spent some of the burst.
    let limited: Response | undefined;
    let stored = 0;
    for (let i = 0; i < 2_000 && !limited; i++) {
      const res = await post(unsigned({}));
      if (res.status === 429) limited = res;
      else {
        expect(res.status).toBe(202);
        stored++;
      }
    }
    expect(stored).toBeLessThan(50);
    expect(limited?.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(await limited!.json()).toMatchObject({ error: 'rate-limited' });
    // The same client, signed, is not limited.
    const res = await post(fixture.domains['sender.example']!.signed({ To: 'receiver.example', Subject: 'Ping@Host', Correlation: randomUUID(), Body: {} }));
    expect(res.status).toBe(202);
  });
});
