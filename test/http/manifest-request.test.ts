/**
 * Issue 17: the protocol's manifest request. An unsigned, Anonymous `Manifest@Domain` to a
 * hosted domain, posted to `POST /inbox` as the reference's `Domain.fetch_manifest` sends it,
 * is answered with the domain's manifest (200, JSON) in the reference's synchronous response
 * envelope (`Request`, `Response`, `Meta`) in both ingress modes; nothing is stored. An unsigned
 * envelope with any other subject (not public) is refused as before.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNatsServer, type NatsServerHandle } from '../support/nats-server.ts';
import { makeFixture } from '../support/runtime-fixture.ts';
import { parseConfig } from '../../src/config/index.ts';
import { startMailroom } from '../../src/mailroom/start-mailroom.ts';
import type { Mailroom } from '../../src/core/mailroom-types.ts';

let server: NatsServerHandle;
const stops: (() => Promise<void>)[] = [];

beforeAll(async () => {
  server = await startNatsServer();
});
afterAll(async () => {
  for (const stop of stops.reverse()) await stop().catch(() => undefined);
  await server?.stop();
});

const unsigned = (subject: string, to: string) => ({
  Header: { From: 'Anonymous', To: to, Subject: subject, Correlation: randomUUID(), Timestamp: new Date().toISOString(), Schema: 'pollyweb.org/MSG:1.0' },
  Body: {},
});

async function post(url: string, body: string, type = 'application/json') {
  const res = await fetch(`${url}/inbox`, { method: 'POST', headers: { 'content-type': type }, body });
  return { status: res.status, type: res.headers.get('content-type'), body: (await res.json()) as Record<string, unknown> };
}

describe.each(['inline', 'worker'] as const)('Manifest@Domain with ingress: %s', (ingress) => {
  let mailroom: Mailroom;
  let url: string;

  beforeAll(async () => {
    const fixture = await makeFixture({
      natsUrl: server.url,
      local: ['orders.example', 'shop.example', 'private.example'],
      feedback: { 'orders.example': 'buffer.example' },
      extra: { http: { port: 0, maxBodyBytes: 4096 } },
    });
    const domains = (fixture.input.domains as Record<string, unknown>[]).map((d) => (d.name === 'shop.example' ? { ...d, manifest: { About: { Title: 'The shop' }, Trusts: [{ Role: 'VAULT' }] } } : d.name === 'private.example' ? { ...d, publicSubjects: [] } : { ...d, publicSubjects: ['Manifest@Domain', 'Ping@Host'] }));
    mailroom = await startMailroom(parseConfig({ ...fixture.input, domains }, { baseDir: fixture.dir, env: {} }), { ingress });
    stops.push(() => mailroom.stop());
    url = mailroom.url!;
  });

  it('answers an unsigned Anonymous request with the manifest, defaults filled in, and stores nothing', async () => {
    const request = unsigned('Manifest@Domain', 'orders.example');
    // The reference's synchronous response envelope: exactly Request, Response and Meta.
    expect(await post(url, JSON.stringify(request))).toEqual({
      status: 200,
      type: expect.stringMatching(/^application\/json/),
      body: { Request: request, Response: { '🤝': 'pollyweb.org/MANIFEST:1.0', About: { Domain: 'orders.example', Feedback: 'buffer.example' } }, Meta: { Code: 200 } },
    });
    expect(await mailroom.status('Anonymous', request.Header.Correlation)).toBeUndefined();
  });

  it('answers in YAML too, To compared without case, with the configured manifest as written', async () => {
    const request = unsigned('Manifest@Domain', 'SHOP.example');
    const yaml = `Header:\n${Object.entries(request.Header).map(([k, v]) => `  ${k}: '${v}'`).join('\n')}\nBody: {}\n`;
    expect(await post(url, yaml, 'application/yaml')).toMatchObject({
      status: 200,
      body: { Request: request, Response: { '🤝': 'pollyweb.org/MANIFEST:1.0', About: { Domain: 'shop.example', Title: 'The shop' }, Trusts: [{ Role: 'VAULT' }] }, Meta: { Code: 200 } },
    });
  });

  it('stores an unsigned envelope to another public subject (202), and only there', async () => {
    const accepted = await post(url, JSON.stringify(unsigned('Ping@Host', 'orders.example')));
    expect(accepted).toMatchObject({ status: 202, body: { state: 'queued', from: 'Anonymous' } });
    expect((await post(url, JSON.stringify(unsigned('Ping@Host', 'shop.example')))).status).toBe(400);
  });

  it('refuses an unsigned envelope with any other subject as before', async () => {
    const answer = await post(url, JSON.stringify(unsigned('Hello@Host', 'orders.example')));
    expect(answer.status).toBe(400);
    expect(answer.body.detail).toMatch(/Hash/);
  });

  it('leaves a manifest request to a domain not hosted here, or whose manifest is not public, to the inbox, and keeps the body limit', async () => {
    expect((await post(url, JSON.stringify(unsigned('Manifest@Domain', 'elsewhere.example')))).status).toBe(400);
    expect((await post(url, JSON.stringify(unsigned('Manifest@Domain', 'private.example')))).status).toBe(400);
    const big = { ...unsigned('Manifest@Domain', 'orders.example'), Body: { pad: 'x'.repeat(5000) } };
    expect((await post(url, JSON.stringify(big))).status).toBe(413);
  });
});
