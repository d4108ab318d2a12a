/** HTTP attached from outside: a runtime started with `http: false`, then served by `serveMailroom` from 'mailroom/http'. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNatsServer, type NatsServerHandle } from '../support/nats-server.ts';
import { makeFixture, type Fixture } from '../support/runtime-fixture.ts';
import { waitFor } from '../support/wait-for.ts';
import { startMailroom } from '../../src/index.ts';
import type { Mailroom } from '../../src/index.ts';
import { serveMailroom, type HttpServer } from '../../src/http/index.ts';

let server: NatsServerHandle;
let fixture: Fixture;
let mailroom: Mailroom;
let http: HttpServer;

beforeAll(async () => {
  server = await startNatsServer();
  fixture = await makeFixture({ natsUrl: server.url, local: ['shop.example'], remote: ['orders.example'] });
  mailroom = await startMailroom(fixture.config, { http: false, handlers: { 'shop.example': { 'Hello@Host': () => ({ hello: 'back' }) } } });
  http = await serveMailroom(mailroom, { host: '127.0.0.1', port: 0, maxBodyBytes: fixture.config.http.maxBodyBytes });
});
afterAll(async () => {
  await http?.stop();
  await mailroom?.stop();
  await server?.stop();
});

describe('serveMailroom', () => {
  it('serves a runtime that started without HTTP: the inbox, readiness, and the admin routes', async () => {
    expect(mailroom.url).toBeUndefined();
    expect(await mailroom.ready()).toEqual({ ready: true, detail: 'NATS and the inbox stream answer' });
    const ready = await fetch(`${http.url}/readyz`);
    expect(ready.status).toBe(200);
    const envelope = fixture.domains['orders.example']!.sign({ To: 'shop.example', Subject: 'Hello@Host', Body: { n: 1 } });
    const posted = await fetch(`${http.url}/inbox`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(envelope) });
    expect(posted.status).toBe(202);
    const path = `/envelopes/${encodeURIComponent(envelope.Header.From)}/${encodeURIComponent(envelope.Header.Correlation)}`;
    const status = await waitFor(async () => {
      const answer = (await (await fetch(`${http.url}${path}`)).json()) as { state?: string; final?: boolean };
      return answer.final ? answer : undefined;
    }, { what: 'the envelope handled' });
    expect(status.state).toBe('replied');
    const stats = (await (await fetch(`${http.url}/stats`)).json()) as { inbox?: unknown };
    expect(stats.inbox).toBeDefined();
  });
});
