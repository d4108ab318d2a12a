/**
 * The outbox delivering to remote domains over HTTP: retries with backoff, dead letters,
 * and the SSRF guard on URLs derived by convention.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:http';
import type { NatsConnection } from '@nats-io/transport-node';
import { startNatsServer, type NatsServerHandle } from '../support/nats-server.ts';
import { makeFixture, type Fixture } from '../support/runtime-fixture.ts';
import { waitFor } from '../support/wait-for.ts';
import { connectNats } from '../../src/transport/connect.ts';
import { startMailroom } from '../../src/mailroom/start-mailroom.ts';
import type { Mailroom } from '../../src/core/mailroom-types.ts';
import { verifyEnvelopeText } from '../../src/envelope/index.ts';
import { isPublicAddress, createGuardedLookup } from '../../src/runtime/ssrf-guard.ts';
import { postEnvelope } from '../../src/runtime/http-delivery.ts';
import type { DeadLetterRecord } from '../../src/runtime/dead-letters.ts';
import { readStream } from '../support/stream-reads.ts';

describe('the SSRF guard', () => {
  it('calls only globally routable unicast addresses public', () => {
    for (const address of ['127.0.0.1', '10.1.2.3', '172.16.0.1', '192.168.1.1', '169.254.169.254', '0.0.0.0', '100.64.0.1', '::1', 'fe80::1', 'fc00::1', '::ffff:127.0.0.1', '::ffff:10.0.0.1', '224.0.0.1']) {
      expect({ address, public: isPublicAddress(address) }).toEqual({ address, public: false });
    }
    for (const address of ['8.8.8.8', '1.1.1.1', '2606:4700::1111', '::ffff:8.8.8.8']) {
      expect({ address, public: isPublicAddress(address) }).toEqual({ address, public: true });
    }
  });

  it('refuses a name that resolves to a private address, and IP literals, without connecting', async () => {
    let connections = 0;
    const sink = createServer((_req, res) => {
      connections++;
      res.writeHead(202).end();
    });
    await new Promise<void>((resolve) => sink.listen(0, '127.0.0.1', () => resolve()));
    const port = (sink.address() as { port: number }).port;
    try {
      const toLoopback = createGuardedLookup((_host, _options, callback) => callback(null, [{ address: '127.0.0.1', family: 4 }]));
      const named = await postEnvelope(`http://pw.evil.example:${port}/inbox`, '{}', { guard: true, timeoutMs: 2_000, lookup: toLoopback });
      expect(named).toMatchObject({ ok: false, retryable: false });
      expect((named as { detail: string }).detail).toMatch(/127\.0\.0\.1 \(loopback\), which is not a public address/);
      for (const url of [`http://127.0.0.1:${port}/inbox`, `http://[::1]:${port}/inbox`, `http://localhost:${port}/inbox`, 'http://169.254.169.254/latest']) {
        expect(await postEnvelope(url, '{}', { guard: true, timeoutMs: 2_000 })).toMatchObject({ ok: false, retryable: false });
      }
      expect(connections).toBe(0);
      // Unguarded (a directory URL the operator wrote) it goes through.
      expect(await postEnvelope(`http://127.0.0.1:${port}/inbox`, '{}', { guard: false, timeoutMs: 2_000 })).toEqual({ ok: true, status: 202 });
      expect(connections).toBe(1);
    } finally {
      sink.close();
    }
  });
});

describe('remote delivery', () => {
  let server: NatsServerHandle;
  let nc: NatsConnection;
  let fixture: Fixture;
  let mailroom: Mailroom;
  let partner: Server;
  let answers: number[] = [];
  const received: string[] = [];
  const keys: (string | undefined)[] = [];

  beforeAll(async () => {
    server = await startNatsServer();
    nc = await connectNats({ url: server.url });
    partner = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        received.push(body);
        keys.push(req.headers['idempotency-key'] as string | undefined);
        res.writeHead(answers.shift() ?? 202).end();
      });
    });
    await new Promise<void>((resolve) => partner.listen(0, '127.0.0.1', () => resolve()));
    const port = (partner.address() as { port: number }).port;
    fixture = await makeFixture({
      natsUrl: server.url,
      local: ['shop.example'],
      extra: {
        directory: { 'partner.example': `http://127.0.0.1:${port}/inbox` },
        outbox: { maxAttempts: 3, retry: { initialDelay: 50, maxDelay: 200, multiplier: 2 } },
      },
    });
    mailroom = await startMailroom(fixture.config, { onError: () => undefined });
  });
  afterAll(async () => {
    await mailroom?.stop();
    partner?.close();
    await nc?.close();
    await server?.stop();
  });

  const deadLetters = () => readStream<DeadLetterRecord>(nc, mailroom.names.streams.dlq);

  it('posts a signed envelope to the directory URL, retrying 5xx with backoff until it is taken; every try carries the same Idempotency-Key', async () => {
    answers = [503, 500];
    received.length = 0;
    keys.length = 0;
    const sent = await mailroom.send({ From: 'shop.example', To: 'partner.example', Subject: 'Offer@Partner', Body: { price: 42 } });
    await waitFor(() => received.length >= 3, { what: 'three delivery attempts' });
    expect(received).toHaveLength(3);
    const verified = verifyEnvelopeText(received[2]!, fixture.domains['shop.example']!.publicKey);
    expect(verified.ok).toBe(true);
    expect(verified.ok && verified.value.envelope.Header.Correlation).toBe(sent.Header.Correlation);
    expect(keys).toEqual([0, 1, 2].map(() => `send/shop.example/${sent.Header.Correlation}`));
  });

  it('dead-letters an envelope the remote inbox refuses (4xx), with the reason', async () => {
    answers = [400];
    received.length = 0;
    const sent = await mailroom.send({ From: 'shop.example', To: 'partner.example', Subject: 'Bad@Partner' });
    const record = await waitFor(async () => (await deadLetters()).find((r) => Buffer.from(r.data, 'base64').toString().includes(sent.Header.Correlation)), { what: 'a dead letter' });
    expect(record).toMatchObject({ reason: 'final-error', lastState: 'delivering', attempts: 1 });
    expect(record.detail).toContain('400');
    expect(received).toHaveLength(1);
  });

  it('dead-letters after the last attempt when a convention URL cannot be reached', async () => {
    const sent = await mailroom.send({ From: 'shop.example', To: 'nowhere.invalid', Subject: 'Hello@Host' });
    const record = await waitFor(async () => (await deadLetters()).find((r) => Buffer.from(r.data, 'base64').toString().includes(sent.Header.Correlation)), { what: 'a dead letter', timeoutMs: 20_000 });
    expect(record).toMatchObject({ reason: 'max-attempts', attempts: 3 });
  });
});
