/**
 * The runtime end to end (real nats-server): a request addressed `To: SHOP.EXAMPLE` is
 * handled by the hosted `shop.example`; its reply is signed in the canonical form of the
 * requester's directory entry (`canonical: python` verifies under the reference's form),
 * and a peer whose form is unknown gets JCS plus one warning through `onError`.
 */
import { sign } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canonicalHeaderJson, hashHex } from '../../src/envelope/canonical.ts';
import { decodeEnvelope, verifyEnvelopeText } from '../../src/envelope/index.ts';
import type { Envelope, EnvelopeHeader } from '../../src/envelope/types.ts';
import type { Mailroom } from '../../src/core/mailroom-types.ts';
import { startMailroom } from '../../src/mailroom/start-mailroom.ts';
import { startNatsServer, type NatsServerHandle } from '../support/nats-server.ts';
import { makeFixture, type Fixture, type TestDomain } from '../support/runtime-fixture.ts';
import { waitFor } from '../support/wait-for.ts';

let server: NatsServerHandle;
let partner: Server;
const received: { path: string; text: string }[] = [];

beforeAll(async () => {
  server = await startNatsServer();
  partner = createServer((req, res) => {
    let text = '';
    req.on('data', (c: Buffer) => (text += c.toString()));
    req.on('end', () => {
      received.push({ path: req.url ?? '', text });
      res.writeHead(202).end();
    });
  });
  await new Promise<void>((resolve) => partner.listen(0, '127.0.0.1', () => resolve()));
});
afterAll(async () => {
  partner?.close();
  await server?.stop();
});

/** Signs a header exactly as written (upper case included), as another implementation may. */
function signedAsWritten(domain: TestDomain, header: Omit<EnvelopeHeader, 'Schema' | 'Selector'>): string {
  const full = { ...header, Schema: 'pollyweb.org/MSG:1.0', Selector: domain.selector } as EnvelopeHeader;
  const canonical = Buffer.from(`{"Body":{},"Header":${canonicalHeaderJson(full)}}`, 'utf8');
  return JSON.stringify({ Header: full, Body: {}, Hash: hashHex(canonical), Signature: sign(null, canonical, domain.privateKey.key).toString('base64') });
}

describe('canonical form per peer, domains in any case', () => {
  let f: Fixture;
  let mailroom: Mailroom;
  const warnings: { error: unknown; context: string }[] = [];

  beforeAll(async () => {
    const base = `http://127.0.0.1:${(partner.address() as { port: number }).port}`;
    f = await makeFixture({
      natsUrl: server.url,
      local: ['shop.example'],
      remote: ['ref.example', 'other.example'],
      extra: {
        directory: { 'ref.example': { inbox: `${base}/ref`, canonical: 'python' }, 'other.example': `${base}/other` },
        validation: { replayWindow: '1h' },
      },
    });
    mailroom = await startMailroom(f.config, {
      handlers: { 'shop.example': { 'Quote@Shop': () => ({ price: 1e-7, ratio: 0.00001, n: 3 }) } },
      onError: (error, context) => warnings.push({ error, context }),
    });
  }, 60_000);
  afterAll(async () => {
    await mailroom?.stop();
  });

  const post = async (text: string) => (await fetch(`${mailroom.url}/inbox`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: text })).status;
  const request = (from: TestDomain, correlation: string) =>
    signedAsWritten(from, { From: from.name.toUpperCase(), To: 'SHOP.EXAMPLE', Subject: 'Quote@Shop', Correlation: correlation, Timestamp: new Date().toISOString() });
  const replyTo = (path: string, correlation: string) => received.find((r) => r.path === path && (JSON.parse(r.text) as Envelope).Header.Correlation === correlation);

  it('answers To: SHOP.EXAMPLE, and signs the reply to a canonical: python peer in the Python form', async () => {
    const correlation = '0b6a4f0e-1d7e-4c55-9f6e-1a2b3c4d5e01';
    expect(await post(request(f.domains['ref.example']!, correlation))).toBe(202);
    await waitFor(() => replyTo('/ref', correlation) !== undefined, { what: 'the reply to ref.example', timeoutMs: 20_000 });
    const text = replyTo('/ref', correlation)!.text;
    const envelope = JSON.parse(text) as Envelope;
    expect(envelope.Header).toMatchObject({ From: 'shop.example', To: 'ref.example' });
    const python = `{"Body":{"n":3,"price":1e-07,"ratio":1e-05},"Header":${canonicalHeaderJson(envelope.Header)}}`;
    expect(envelope.Hash).toBe(hashHex(Buffer.from(python, 'utf8')));
    expect(verifyEnvelopeText(text, f.domains['shop.example']!.publicKey).ok).toBe(true);
    expect(warnings.filter((w) => w.context.startsWith('canonical form'))).toEqual([]);
  }, 30_000);

  it('signs JCS for a peer of unknown form, and warns once for it', async () => {
    const correlations = ['0b6a4f0e-1d7e-4c55-9f6e-1a2b3c4d5e02', '0b6a4f0e-1d7e-4c55-9f6e-1a2b3c4d5e03'];
    for (const correlation of correlations) {
      expect(await post(request(f.domains['other.example']!, correlation))).toBe(202);
      await waitFor(() => replyTo('/other', correlation) !== undefined, { what: 'the reply to other.example', timeoutMs: 20_000 });
      const text = replyTo('/other', correlation)!.text;
      const decoded = decodeEnvelope(text);
      expect(decoded.ok && hashHex(decoded.value.canonical)).toBe((JSON.parse(text) as Envelope).Hash);
      expect(verifyEnvelopeText(text, f.domains['shop.example']!.publicKey).ok).toBe(true);
    }
    const about = warnings.filter((w) => w.context === 'canonical form of other.example');
    expect(about).toHaveLength(1);
    expect(String((about[0]!.error as Error).message)).toContain('directory["other.example"].canonical');
  }, 40_000);
});
