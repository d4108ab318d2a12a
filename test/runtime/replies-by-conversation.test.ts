/**
 * Replies are recognised by conversation, not by subject: an envelope answers one of our
 * requests only when a stored conversation of its `To` waits for its correlation from its
 * `From`. Anything else, `Reply@Host` included, goes to the handlers like any message.
 * Against a real nats-server, with a second runtime and a restart.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:http';
import { startNatsServer, type NatsServerHandle } from '../support/nats-server.ts';
import { makeFixture, type Fixture } from '../support/runtime-fixture.ts';
import { waitFor } from '../support/wait-for.ts';
import { startMailroom } from '../../src/mailroom/start-mailroom.ts';
import type { MailroomOptions } from '../../src/core/mailroom-types.ts';
import { encodeEnvelope } from '../../src/envelope/index.ts';
import type { Envelope } from '../../src/envelope/types.ts';

let server: NatsServerHandle;
let remote: Server;
/** What reached the remote domains' inbox (partner.example and wallet.example share it). */
const remoteInbox: Envelope[] = [];

beforeAll(async () => {
  server = await startNatsServer();
  remote = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      remoteInbox.push(JSON.parse(body) as Envelope);
      res.writeHead(202).end();
    });
  });
  await new Promise<void>((resolve) => remote.listen(0, '127.0.0.1', () => resolve()));
});
afterAll(async () => {
  remote?.close();
  await server?.stop();
});

async function fixture(): Promise<Fixture> {
  const inbox = `http://127.0.0.1:${(remote.address() as { port: number }).port}/inbox`;
  return makeFixture({
    natsUrl: server.url,
    local: ['orders.example', 'host.example', 'buffer.example'],
    remote: ['partner.example', 'wallet.example'],
    extra: {
      directory: { 'partner.example': inbox, 'wallet.example': inbox },
      // wallet.example's discards are reported to buffer.example (hosted here: its arrival is seen as settled).
      manifests: { 'wallet.example': { feedback: 'buffer.example' } },
      delivery: { ackWait: '2s' },
    },
  });
}

/** Calls of the handlers, by subject: a reply to our own request must reach none of them. */
const calls: string[] = [];
const options: MailroomOptions = {
  http: false,
  onError: () => undefined,
  handlers: {
    'host.example': { 'Reply@Host': ({ body }) => (calls.push('Reply@Host'), { seen: body }) },
    'orders.example': {
      'Answer@Partner': () => (calls.push('Answer@Partner'), undefined),
      'Reply@Ask@Partner': () => (calls.push('Reply@Ask@Partner'), undefined),
    },
  },
};

describe('replies by conversation', () => {
  it('a Reply@Host from a domain nobody asked goes to the Reply@Host handler, and its reply is sent', async () => {
    const f = await fixture();
    const mailroom = await startMailroom(f.config, options);
    try {
      const prompt = f.domains['wallet.example']!.sign({ To: 'host.example', Subject: 'Reply@Host', Body: { approve: true } });
      expect((await mailroom.accept(encodeEnvelope(prompt))).kind).toBe('accepted');
      const status = await waitFor(async () => {
        const s = await mailroom.status('wallet.example', prompt.Header.Correlation);
        return s?.final ? s : undefined;
      });
      expect(status).toMatchObject({ state: 'replied', replySubject: 'Reply@Reply@Host' });
      expect(status.discard).toBeUndefined();
      expect(calls).toContain('Reply@Host');
      const sent = await waitFor(() => remoteInbox.find((e) => e.Header.To === 'wallet.example' && e.Header.Correlation === prompt.Header.Correlation), { what: 'the reply at wallet.example' });
      expect(sent).toMatchObject({ Header: { From: 'host.example', Subject: 'Reply@Reply@Host' }, Body: { seen: { approve: true } } });
    } finally {
      await mailroom.stop();
    }
  });

  it('the same Reply@Host where no handler takes it is discarded unknown-subject, with feedback, like any subject', async () => {
    const f = await fixture();
    const settled: Envelope[] = [];
    const mailroom = await startMailroom(f.config, { ...options });
    mailroom.events.on('settled', (_status, envelope) => envelope && settled.push(envelope));
    try {
      const prompt = f.domains['wallet.example']!.sign({ To: 'orders.example', Subject: 'Reply@Host', Body: { approve: true } });
      expect((await mailroom.accept(encodeEnvelope(prompt))).kind).toBe('accepted');
      const status = await waitFor(async () => {
        const s = await mailroom.status('wallet.example', prompt.Header.Correlation);
        return s?.final ? s : undefined;
      });
      expect(status).toMatchObject({ state: 'feedbackSent', discard: { reason: 'unknown-subject' } });
      expect(status.body).toBeUndefined();
      // The feedback reached the buffer, and is not taken for an answer there (no conversation waits): discarded, no feedback about it.
      const feedback = await waitFor(() => settled.find((e) => e.Header.Subject === 'Feedback@Buffer' && (e.Body as { Correlation?: string }).Correlation === prompt.Header.Correlation), { what: 'the feedback at buffer.example' });
      const atBuffer = await waitFor(async () => {
        const s = await mailroom.status(feedback.Header.From, feedback.Header.Correlation);
        return s?.final ? s : undefined;
      });
      expect(atBuffer).toMatchObject({ state: 'noFeedback', discard: { reason: 'unknown-subject' } });
    } finally {
      await mailroom.stop();
    }
  });

  it('a reply to our own request ends the conversation replied, whatever its subject, and no handler runs', async () => {
    const f = await fixture();
    const mailroom = await startMailroom(f.config, options);
    try {
      for (const subject of ['Reply@Ask@Partner', 'Answer@Partner', 'Reply@Hello@Host']) {
        calls.length = 0;
        const started = await mailroom.startConversation({ from: 'orders.example', to: 'partner.example', subject: 'Ask@Partner', timeoutMs: 60_000 });
        const reply = f.domains['partner.example']!.sign({ To: 'orders.example', Subject: subject, Correlation: started.correlation, Body: { subject } });
        expect((await mailroom.accept(encodeEnvelope(reply))).kind).toBe('accepted');
        await expect(started.outcome).resolves.toMatchObject({ state: 'replied', reply: { subject, body: { subject } } });
        const status = await waitFor(async () => {
          const s = await mailroom.status('partner.example', started.correlation);
          return s?.final ? s : undefined;
        });
        // An answer keeps its Body in its status, for the requester.
        expect(status).toMatchObject({ state: 'replied', body: { subject } });
        expect(calls).toEqual([]);
      }
    } finally {
      await mailroom.stop();
    }
  });

  it('the same subject from a domain that was not asked is no answer: it goes to its handler, the conversation waits on', async () => {
    const f = await fixture();
    const mailroom = await startMailroom(f.config, options);
    try {
      calls.length = 0;
      const started = await mailroom.startConversation({ from: 'orders.example', to: 'partner.example', subject: 'Ask@Partner', timeoutMs: 60_000 });
      const other = f.domains['wallet.example']!.sign({ To: 'orders.example', Subject: 'Answer@Partner', Correlation: started.correlation, Body: {} });
      expect((await mailroom.accept(encodeEnvelope(other))).kind).toBe('accepted');
      await waitFor(async () => (await mailroom.status('wallet.example', started.correlation))?.final);
      expect(calls).toEqual(['Answer@Partner']);
      expect((await mailroom.conversation('orders.example', started.correlation))?.state).toBe('awaitingReply');
    } finally {
      await mailroom.stop();
    }
  });

  it('a reply taken in by a second runtime, and one after a restart, still end the conversation (the check reads KV)', async () => {
    const f = await fixture();
    const first = await startMailroom(f.config, options);
    const second = await startMailroom(f.config, options);
    let third;
    try {
      calls.length = 0;
      const a = await first.startConversation({ from: 'orders.example', to: 'partner.example', subject: 'Ask@Partner', timeoutMs: 60_000 });
      const replyA = f.domains['partner.example']!.sign({ To: 'orders.example', Subject: 'Answer@Partner', Correlation: a.correlation, Body: { via: 'second' } });
      expect((await second.accept(encodeEnvelope(replyA))).kind).toBe('accepted');
      await expect(a.outcome).resolves.toMatchObject({ state: 'replied', reply: { body: { via: 'second' } } });

      const b = await first.startConversation({ from: 'orders.example', to: 'partner.example', subject: 'Ask@Partner', timeoutMs: 60_000 });
      await first.stop();
      await second.stop();
      third = await startMailroom(f.config, options);
      const replyB = f.domains['partner.example']!.sign({ To: 'orders.example', Subject: 'Answer@Partner', Correlation: b.correlation, Body: { via: 'restart' } });
      expect((await third.accept(encodeEnvelope(replyB))).kind).toBe('accepted');
      const record = await waitFor(async () => {
        const r = await third!.conversation('orders.example', b.correlation);
        return r?.status === 'done' ? r : undefined;
      });
      expect(record.output).toMatchObject({ state: 'replied', reply: { subject: 'Answer@Partner', body: { via: 'restart' } } });
      expect(calls).toEqual([]);
    } finally {
      await first.stop();
      await second.stop();
      await third?.stop();
    }
  }, 30_000);
});
