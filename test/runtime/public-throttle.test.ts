/**
 * Issue 17: unsigned public envelopes never spend the throttle tokens (`delivery.senderRate`)
 * of the sender they claim: they share a bucket of their own. With one token per sender and
 * almost no refill, an unsigned envelope claiming sender.example goes first; the genuine,
 * signed envelope from sender.example is still handled at once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { startNatsServer, type NatsServerHandle } from '../support/nats-server.ts';
import { makeFixture, type Fixture } from '../support/runtime-fixture.ts';
import { waitFor } from '../support/wait-for.ts';
import { parseConfig } from '../../src/config/index.ts';
import { startMailroom } from '../../src/mailroom/start-mailroom.ts';
import type { Mailroom } from '../../src/core/mailroom-types.ts';
import { senderKeyOf, UNPROVEN_SENDER } from '../../src/runtime/public-envelopes.ts';
import type { Envelope } from '../../src/envelope/index.ts';

let server: NatsServerHandle;
let a: Mailroom;
let fixture: Fixture;
const seen: { correlation: string; verified: boolean }[] = [];

beforeAll(async () => {
  server = await startNatsServer();
  fixture = await makeFixture({ natsUrl: server.url, local: ['receiver.example'], remote: ['sender.example'] });
  const input = fixture.input as { domains: Record<string, unknown>[]; delivery: Record<string, unknown> };
  const config = parseConfig(
    {
      ...fixture.input,
      domains: input.domains.map((d) => ({ ...d, publicSubjects: ['Manifest@Domain', 'Ping@Host'] })),
      delivery: { ...input.delivery, senderRate: { rate: 0.001, burst: 1 } },
    },
    { baseDir: fixture.dir, env: {} },
  );
  a = await startMailroom(config);
  a.handle('receiver.example', 'Ping@Host', ({ correlation, verified }) => void seen.push({ correlation, verified }));
});
afterAll(async () => {
  await a?.stop();
  await server?.stop();
});

const post = (body: string) => fetch(`${a.url}/inbox`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });

describe('the throttle and unsigned envelopes', () => {
  it('counts unproven envelopes apart from the sender they claim', () => {
    const header = { Schema: 'pollyweb.org/MSG:1.0', From: 'sender.example', To: 'receiver.example', Subject: 'Ping@Host', Correlation: randomUUID(), Timestamp: new Date().toISOString() } as const;
    expect(senderKeyOf({ Header: header, Hash: '', Signature: '' } as Envelope)).toBe(UNPROVEN_SENDER);
    expect(senderKeyOf({ Header: { ...header, From: 'Anonymous' }, Hash: 'h', Signature: 's' } as Envelope)).toBe(UNPROVEN_SENDER);
    expect(senderKeyOf({ Header: header, Hash: 'h', Signature: 's' } as Envelope)).toBe('sender.example');
  });

  it('handles the genuine sender at once after an unsigned envelope that claims it', async () => {
    const forged = randomUUID();
    const unsigned = { Header: { Schema: 'pollyweb.org/MSG:1.0', From: 'sender.example', To: 'receiver.example', Subject: 'Ping@Host', Correlation: forged, Timestamp: new Date().toISOString() }, Body: {} };
    expect((await post(JSON.stringify(unsigned))).status).toBe(202);
    expect(await waitFor(() => seen.find((s) => s.correlation === forged), { what: 'the unsigned envelope handled' })).toMatchObject({ verified: false });
    const genuine = randomUUID();
    expect((await post(fixture.domains['sender.example']!.signed({ To: 'receiver.example', Subject: 'Ping@Host', Correlation: genuine, Body: {} }))).status).toBe(202);
    // Had the unsigned one spent sender.example's only token, this would wait ~1000 s for the next.
    expect(await waitFor(() => seen.find((s) => s.correlation === genuine), { what: 'the signed envelope handled', timeoutMs: 20_000 })).toMatchObject({ verified: true });
  });
});
