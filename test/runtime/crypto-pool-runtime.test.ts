/**
 * The runtime with its signature work on the crypto pool (`cryptoPool` option): the same
 * outcomes as on the event loop, with the verify and sign done by the workers.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNatsServer, type NatsServerHandle } from '../support/nats-server.ts';
import { makeFixture, type Fixture } from '../support/runtime-fixture.ts';
import { waitFor } from '../support/wait-for.ts';
import { startMailroom } from '../../src/mailroom/start-mailroom.ts';
import type { Mailroom } from '../../src/core/mailroom-types.ts';
import { createCryptoPool, cryptoWorkerCount, type CryptoPool } from '../../src/runtime/crypto-pool.ts';
import { cryptoPoolFor } from '../../src/core/start-runtime.ts';
import { ResourceScope } from '../../src/runtime/resource-scope.ts';
import type { EnvelopeStatus } from '../../src/runtime/status-store.ts';
import type { Envelope } from '../../src/envelope/types.ts';
import { encodeEnvelope, verifyEnvelopeText } from '../../src/envelope/index.ts';

let server: NatsServerHandle;
let fixture: Fixture;
let pool: CryptoPool;
let mailroom: Mailroom;
const settled: { status: EnvelopeStatus; envelope: Envelope | undefined }[] = [];

const finalOf = (from: string, correlation: string) =>
  waitFor(() => settled.find((s) => s.status.from === from && s.status.correlation === correlation && s.status.final), { what: `final state of ${from}/${correlation}` });

beforeAll(async () => {
  server = await startNatsServer();
  fixture = await makeFixture({
    natsUrl: server.url,
    local: ['shop.example', 'orders.example', 'buffer.example'],
    remote: ['stranger.example'],
    feedback: { 'orders.example': 'buffer.example' },
  });
  pool = createCryptoPool({ size: 2 });
  mailroom = await startMailroom(fixture.config, {
    http: false,
    cryptoPool: pool,
    handlers: { 'shop.example': { 'Hello@Host': ({ from, body }) => ({ text: `hello ${from}`, echo: body }) } },
  });
  mailroom.events.on('settled', (status, envelope) => settled.push({ status, envelope }));
});

afterAll(async () => {
  await mailroom?.stop();
  await pool?.close();
  await server?.stop();
});

describe('with cryptoPool', () => {
  it('verifies on the pool, signs the reply there, and the reply verifies with the replier key', async () => {
    const before = pool.stats().operations;
    // A conversation, so the reply that comes back is an answer (replies are recognised by conversation).
    const { correlation } = await mailroom.startConversation({ from: 'orders.example', to: 'shop.example', subject: 'Hello@Host', body: { text: 'pooled' }, timeoutMs: 30_000 });
    const envelope = { Header: { Correlation: correlation } };
    const request = await finalOf('orders.example', envelope.Header.Correlation);
    expect(request.status.history.map((h) => h.state)).toEqual(['received', 'queued', 'validating', 'handling', 'replying', 'replied']);
    const reply = await finalOf('shop.example', envelope.Header.Correlation);
    expect(reply.status.state).toBe('replied');
    expect(reply.envelope?.Body).toEqual({ text: 'hello orders.example', echo: { text: 'pooled' } });
    expect(verifyEnvelopeText(encodeEnvelope(reply.envelope!), fixture.domains['shop.example']!.publicKey).ok).toBe(true);
    // Request signed and verified, reply signed, reply verified (by orders.example's own actor).
    expect(pool.stats().operations - before).toBeGreaterThanOrEqual(3);
  });

  it('discards a bad signature found by the pool', async () => {
    const stranger = fixture.domains['stranger.example']!;
    const orders = fixture.domains['orders.example']!;
    const e = stranger.sign({ To: 'shop.example', Subject: 'Hello@Host' });
    const other = orders.sign({ To: 'shop.example', Subject: 'Hello@Host', Correlation: e.Header.Correlation, Timestamp: e.Header.Timestamp });
    await mailroom.accept(encodeEnvelope({ ...e, Signature: other.Signature }));
    const status = await finalOf('stranger.example', e.Header.Correlation);
    expect(status.status.discard).toMatchObject({ reason: 'bad-signature', source: 'validation' });
  });

  it('signs a delayed send on the pool', async () => {
    const sent = await mailroom.send({ From: 'orders.example', To: 'shop.example', Subject: 'Hello@Host', Body: { text: 'later' } }, { delayMs: 50 });
    expect(verifyEnvelopeText(encodeEnvelope(sent), fixture.domains['orders.example']!.publicKey).ok).toBe(true);
  });
});

describe('crypto.workers in the config', () => {
  it('decides the pool when the cryptoPool option does not: a number or auto starts one (closed with the runtime), 0 or absent none', async () => {
    const scope = new ResourceScope();
    try {
      const one = await cryptoPoolFor(undefined, 1, scope);
      expect(one?.size).toBe(1);
      expect(await cryptoPoolFor(undefined, 0, scope)).toBeUndefined();
      expect(await cryptoPoolFor(undefined, undefined, scope)).toBeUndefined();
      expect((await cryptoPoolFor(undefined, 'auto', scope))?.size).toBe(cryptoWorkerCount('auto') || undefined);
      // The option wins over the config: a pool passed in is used, false is none.
      expect(await cryptoPoolFor(pool, 0, scope)).toBe(pool);
      expect(await cryptoPoolFor(false, 4, scope)).toBeUndefined();
      await scope.close();
      await expect(one!.sign(new Uint8Array(1), new Uint8Array(1), 'ed25519')).rejects.toThrow(/closed/);
    } finally {
      await scope.close();
    }
  });

  it('a runtime started with crypto.workers: 1 replies with a signature that verifies, and refuses a forged one', async () => {
    const own = await startMailroom(
      { ...fixture.config, nats: { ...fixture.config.nats, prefix: 'cryptocfg' }, crypto: { workers: 1 } },
      { http: false, handlers: { 'shop.example': { 'Hello@Host': ({ body }) => ({ echo: body }) } } },
    );
    const done: { status: EnvelopeStatus; envelope: Envelope | undefined }[] = [];
    own.events.on('settled', (status, envelope) => done.push({ status, envelope }));
    try {
      const { correlation } = await own.startConversation({ from: 'orders.example', to: 'shop.example', subject: 'Hello@Host', body: { n: 1 }, timeoutMs: 30_000 });
      const reply = await waitFor(() => done.find((s) => s.status.from === 'shop.example' && s.status.correlation === correlation && s.status.final), { what: 'the reply' });
      expect(reply.status.state).toBe('replied');
      expect(verifyEnvelopeText(encodeEnvelope(reply.envelope!), fixture.domains['shop.example']!.publicKey).ok).toBe(true);
      // Its own pool of one thread did the work: request signed and verified, reply signed and verified.
      const { crypto } = await own.stats();
      expect(crypto).toMatchObject({ workers: 1, threads: 1 });
      expect(crypto.operations).toBeGreaterThanOrEqual(4);
      const stranger = fixture.domains['stranger.example']!;
      const e = stranger.sign({ To: 'shop.example', Subject: 'Hello@Host' });
      await own.accept(encodeEnvelope({ ...e, Signature: fixture.domains['orders.example']!.sign({ To: 'shop.example', Subject: 'Hello@Host' }).Signature }));
      const forged = await waitFor(() => done.find((s) => s.status.correlation === e.Header.Correlation && s.status.final), { what: 'the forged envelope final' });
      expect(forged.status.discard).toMatchObject({ reason: 'bad-signature' });
    } finally {
      await own.stop();
    }
  });
});
