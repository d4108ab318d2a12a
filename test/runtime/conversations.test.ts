/**
 * Conversations (request/reply by correlation), durable timers and delayed delivery,
 * against a real nats-server, including restarts of the runtime and of nats-server.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:http';
import { startNatsServer, type NatsServerHandle } from '../support/nats-server.ts';
import { makeFixture, type Fixture } from '../support/runtime-fixture.ts';
import { waitFor } from '../support/wait-for.ts';
import { startMailroom } from '../../src/mailroom/start-mailroom.ts';
import type { Mailroom, MailroomOptions } from '../../src/core/mailroom-types.ts';
import { encodeEnvelope, verifyEnvelopeText } from '../../src/envelope/index.ts';
import type { Envelope } from '../../src/envelope/types.ts';

let server: NatsServerHandle;
let partner: Server;
const partnerInbox: { at: number; envelope: Envelope; raw: string }[] = [];

beforeAll(async () => {
  server = await startNatsServer();
  // A remote domain's inbox that takes envelopes and never answers by itself.
  partner = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      partnerInbox.push({ at: Date.now(), envelope: JSON.parse(body) as Envelope, raw: body });
      res.writeHead(202).end();
    });
  });
  await new Promise<void>((resolve) => partner.listen(0, '127.0.0.1', () => resolve()));
});
afterAll(async () => {
  partner?.close();
  await server?.stop();
});

async function fixture(): Promise<Fixture> {
  return makeFixture({
    natsUrl: server.url,
    local: ['orders.example', 'shop.example', 'buffer.example'],
    remote: ['partner.example', 'mallory.example'],
    feedback: { 'orders.example': 'buffer.example' },
    extra: {
      directory: { 'partner.example': `http://127.0.0.1:${(partner.address() as { port: number }).port}/inbox` },
      // A short ack wait: a message in transit to a stopping runtime is redelivered after it.
      delivery: { ackWait: '2s' },
      // POST /conversations may sign only as a domain of http.sendAs.
      http: { port: 0, sendAs: ['orders.example'] },
    },
  });
}

const options: MailroomOptions = {
  handlers: { 'shop.example': { 'Quote@Shop': ({ body }) => ({ item: (body as { item: string }).item, price: 42 }) } },
  onError: () => undefined,
};

describe('conversations', () => {
  let f: Fixture;
  let mailroom: Mailroom;
  beforeAll(async () => {
    f = await fixture();
    mailroom = await startMailroom(f.config, options);
  });
  afterAll(async () => {
    await mailroom?.stop();
  });

  it('a request resolves with its reply, matched by correlation', async () => {
    const outcome = await mailroom.request({ from: 'orders.example', to: 'shop.example', subject: 'Quote@Shop', body: { item: 'tea' }, timeoutMs: 10_000 });
    expect(outcome.state).toBe('replied');
    expect(outcome.state === 'replied' && outcome.reply).toMatchObject({ subject: 'Reply@Quote@Shop', body: { item: 'tea', price: 42 } });
    const record = await mailroom.conversation('orders.example', outcome.correlation);
    expect(record).toMatchObject({ state: 'replied', status: 'done' });
  });

  it('feedback about the request ends it as discarded', async () => {
    const outcome = await mailroom.request({ from: 'orders.example', to: 'shop.example', subject: 'Nope@Shop', timeoutMs: 10_000 });
    expect(outcome).toMatchObject({ state: 'discarded', reason: 'Unknown subject.' });
  });

  it('no reply: it times out on a durable timer, within a second of its due time', async () => {
    const started = Date.now();
    const outcome = await mailroom.request({ from: 'orders.example', to: 'partner.example', subject: 'Ask@Partner', timeoutMs: 1_500 });
    const elapsed = Date.now() - started;
    expect(outcome.state).toBe('timedOut');
    expect(elapsed).toBeGreaterThanOrEqual(1_500);
    expect(elapsed).toBeLessThan(1_500 + 1_000);
  });

  it('while it waits it is passivated: its snapshot is in KV, and only its peer can answer it', async () => {
    const { correlation, outcome } = await mailroom.startConversation({ from: 'orders.example', to: 'partner.example', subject: 'Ask@Partner', timeoutMs: 60_000 });
    expect(await mailroom.conversation('orders.example', correlation)).toMatchObject({ state: 'awaitingReply', status: 'active', context: { to: 'partner.example', correlation } });
    // A reply from another (verified) domain with the same correlation does not complete it.
    const forged = f.domains['mallory.example']!.sign({ To: 'orders.example', Subject: 'Reply@Ask@Partner', Correlation: correlation, Body: { fake: true } });
    expect((await mailroom.accept(encodeEnvelope(forged))).kind).toBe('accepted');
    const reply = f.domains['partner.example']!.sign({ To: 'orders.example', Subject: 'Reply@Ask@Partner', Correlation: correlation, Body: { answer: 7 } });
    await waitFor(async () => (await mailroom.status('mallory.example', correlation))?.final);
    expect((await mailroom.conversation('orders.example', correlation))?.state).toBe('awaitingReply');
    expect((await mailroom.accept(encodeEnvelope(reply))).kind).toBe('accepted');
    const done = await outcome;
    expect(done).toMatchObject({ state: 'replied', reply: { body: { answer: 7 } } });
  });

  it('an outcome first read after the conversation ended still resolves (the wait checks KV)', async () => {
    const started = await mailroom.startConversation({ from: 'orders.example', to: 'shop.example', subject: 'Quote@Shop', body: { item: 'jam' }, timeoutMs: 10_000 });
    await waitFor(async () => (await mailroom.conversation('orders.example', started.correlation))?.status === 'done', { what: 'the conversation done' });
    await expect(started.outcome).resolves.toMatchObject({ state: 'replied', correlation: started.correlation, reply: { body: { item: 'jam', price: 42 } } });
    expect(started.outcome).toBe(started.outcome);
  });

  it('a conversation whose outcome nobody reads is visible through the status API, and its end is reported', async () => {
    const changes: { correlation: string; state: string }[] = [];
    const listener = (change: { correlation: string; state: string }) => changes.push(change);
    mailroom.events.on('conversation', listener);
    try {
      const { correlation } = await mailroom.startConversation({ from: 'orders.example', to: 'shop.example', subject: 'Quote@Shop', body: { item: 'bun' }, timeoutMs: 10_000 });
      const record = await waitFor(async () => {
        const r = await mailroom.conversation('orders.example', correlation);
        return r?.status === 'done' ? r : undefined;
      });
      expect(record.output).toMatchObject({ state: 'replied', reply: { body: { item: 'bun', price: 42 } } });
      await waitFor(() => changes.some((c) => c.correlation === correlation && c.state === 'replied'), { what: 'the end reported' });
      expect(changes.filter((c) => c.correlation === correlation).map((c) => c.state)).toEqual(['awaitingReply', 'replied']);
    } finally {
      mailroom.events.off('conversation', listener);
    }
  });

  it('is visible over HTTP: POST /conversations, then GET its status', async () => {
    const res = await fetch(`${mailroom.url}/conversations`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ from: 'orders.example', to: 'shop.example', subject: 'Quote@Shop', body: { item: 'cake' } }) });
    expect(res.status).toBe(202);
    const { status } = (await res.json()) as { status: string };
    const record = await waitFor(async () => {
      const r = (await (await fetch(status)).json()) as { state: string; output?: unknown };
      return r.state === 'replied' ? r : undefined;
    });
    expect(record.output).toMatchObject({ reply: { body: { item: 'cake', price: 42 } } });
    const bad = await fetch(`${mailroom.url}/conversations`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"from":"nobody.example","to":"shop.example","subject":"X@Y"}' });
    expect(bad.status).toBe(403);
    expect(await bad.json()).toMatchObject({ error: 'send-as-not-allowed' });
  });

  it('POST /conversations signs the body as the client wrote it: 1.0, -0.0 and 12345678901234567890 stay so, and the signature verifies', async () => {
    const res = await fetch(`${mailroom.url}/conversations`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"from":"orders.example","to":"partner.example","subject":"Quote@Partner","body":{"n":1.0,"z":-0.0,"big":12345678901234567890}}',
    });
    expect(res.status).toBe(202);
    const { correlation } = (await res.json()) as { correlation: string };
    const arrived = await waitFor(() => partnerInbox.find((p) => p.envelope.Header.Correlation === correlation), { what: 'the request delivered' });
    expect(arrived.raw).toContain('"Body":{"n":1.0,"z":-0.0,"big":12345678901234567890}');
    const verified = verifyEnvelopeText(arrived.raw, f.domains['orders.example']!.publicKey);
    expect(verified.ok).toBe(true);
    const bad = await fetch(`${mailroom.url}/conversations`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"from":"orders.example","to":"partner.example","subject":"Quote@Partner","body":[1]}' });
    expect(bad.status).toBe(400);
  });
});

describe('two runtimes', () => {
  it('a conversation finished by another runtime resolves the waiting caller and is reported once, by the runtime that started it', async () => {
    const f = await fixture();
    const first = await startMailroom(f.config, { ...options, http: false });
    const second = await startMailroom(f.config, { ...options, http: false });
    const seen: string[] = [];
    first.events.on('conversation', (c) => seen.push(`first ${c.state}`));
    second.events.on('conversation', (c) => seen.push(`second ${c.state}`));
    try {
      const started = await first.startConversation({ from: 'orders.example', to: 'partner.example', subject: 'Ask@Partner', timeoutMs: 60_000 });
      const outcome = started.outcome;
      const reply = f.domains['partner.example']!.sign({ To: 'orders.example', Subject: 'Reply@Ask@Partner', Correlation: started.correlation, Body: { via: 'either' } });
      // The second runtime takes it in; either runtime's actor may finish the conversation.
      expect((await second.accept(encodeEnvelope(reply))).kind).toBe('accepted');
      await expect(outcome).resolves.toMatchObject({ state: 'replied', reply: { body: { via: 'either' } } });
      await waitFor(() => seen.includes('first replied'), { what: 'the end reported by the first runtime' });
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(seen).toEqual(['first awaitingReply', 'first replied']);
    } finally {
      await second.stop();
      await first.stop();
    }
  });
});

describe('across restarts', () => {
  it('a conversation waiting when the runtime stops is completed by a reply after the restart', async () => {
    const f = await fixture();
    const first = await startMailroom(f.config, options);
    const { correlation } = await first.startConversation({ from: 'orders.example', to: 'partner.example', subject: 'Ask@Partner', timeoutMs: 60_000 });
    await waitFor(() => partnerInbox.find((p) => p.envelope.Header.Correlation === correlation), { what: 'the request delivered' });
    await first.stop();

    const second = await startMailroom(f.config, options);
    try {
      const reply = f.domains['partner.example']!.sign({ To: 'orders.example', Subject: 'Reply@Ask@Partner', Correlation: correlation, Body: { late: true } });
      expect((await second.accept(encodeEnvelope(reply))).kind).toBe('accepted');
      const record = await waitFor(async () => {
        const r = await second.conversation('orders.example', correlation);
        return r?.status === 'done' ? r : undefined;
      });
      expect(record.output).toMatchObject({ state: 'replied', reply: { body: { late: true } } });
    } finally {
      await second.stop();
    }
  });

  it('a timeout whose due time passes while the runtime is down fires once it is back', async () => {
    const f = await fixture();
    const first = await startMailroom(f.config, options);
    const dueAt = Date.now() + 1_000;
    const { correlation } = await first.startConversation({ from: 'orders.example', to: 'partner.example', subject: 'Ask@Partner', timeoutMs: 1_000 });
    await first.stop();
    // The runtime stays down until the due time has passed.
    await waitFor(() => Date.now() > dueAt + 200, { what: 'the due time to pass', intervalMs: 20 });
    const second = await startMailroom(f.config, options);
    try {
      const record = await waitFor(async () => {
        const r = await second.conversation('orders.example', correlation);
        return r?.status === 'done' ? r : undefined;
      }, { timeoutMs: 10_000 });
      expect(record.state).toBe('timedOut');
    } finally {
      await second.stop();
    }
  });

  it('timers survive a nats-server restart', async () => {
    const f = await fixture();
    const mailroom = await startMailroom(f.config, options);
    try {
      const { correlation, outcome } = await mailroom.startConversation({ from: 'orders.example', to: 'partner.example', subject: 'Ask@Partner', timeoutMs: 3_000 });
      await server.restart();
      expect(await outcome).toMatchObject({ state: 'timedOut', correlation });
    } finally {
      await mailroom.stop();
    }
  });
});

describe('delayed delivery', () => {
  it('an envelope sent with a delay is not delivered before its time, even across a restart', async () => {
    const f = await fixture();
    const first = await startMailroom(f.config, options);
    const notBefore = Date.now() + 2_000;
    const sent = await first.send({ From: 'orders.example', To: 'partner.example', Subject: 'Later@Partner' }, { notBefore });
    await first.stop();
    const second = await startMailroom(f.config, options);
    try {
      const arrived = await waitFor(() => partnerInbox.find((p) => p.envelope.Header.Correlation === sent.Header.Correlation), { what: 'the delayed envelope', timeoutMs: 10_000 });
      expect(arrived.at).toBeGreaterThanOrEqual(notBefore);
      expect(arrived.at).toBeLessThan(notBefore + 2_000);
      expect(arrived.envelope.Signature).toBe(sent.Signature);
    } finally {
      await second.stop();
    }
  });
});
