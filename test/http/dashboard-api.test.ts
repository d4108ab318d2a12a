/**
 * The operators' JSON API over the real stores (status bucket, dead letters), against a real
 * runtime and nats-server: pages with cursors and filters, the scan cap, the detail of one
 * envelope, dead letters grouped by reason, bulk replay and purge of a confirmed count, and
 * that all of it is admin-only.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNatsServer, type NatsServerHandle } from '../support/nats-server.ts';
import { makeFixture, type Fixture } from '../support/runtime-fixture.ts';
import { waitFor } from '../support/wait-for.ts';
import { startMailroom } from '../../src/mailroom/start-mailroom.ts';
import type { AuditEntry, Mailroom } from '../../src/core/mailroom-types.ts';
import { RetryableError } from '../../src/runtime/handlers.ts';
import type { EnvelopeStatus } from '../../src/runtime/status-store.ts';

const TOKEN = 'dashboard-api-test-token-0123456789';
let server: NatsServerHandle;
let fixture: Fixture;
let mailroom: Mailroom;
let healthy = false;
const settled: EnvelopeStatus[] = [];
const audits: AuditEntry[] = [];
const hellos: string[] = [];
const pays: string[] = [];
const nopes: string[] = [];

const api = async (path: string, init: RequestInit = {}) => {
  const res = await fetch(`${mailroom.url}${path}`, { ...init, headers: { authorization: `Bearer ${TOKEN}`, ...(init.body ? { 'content-type': 'application/json' } : {}), ...init.headers } });
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- the tests read fields of JSON answers
  return { status: res.status, body: (await res.json()) as any };
};
const post = (path: string, body: unknown) => api(path, { method: 'POST', body: JSON.stringify(body) });
const accept = async (subject: string, body: Record<string, number> = {}) => {
  const signed = fixture.domains['orders.example']!.sign({ To: 'shop.example', Subject: subject, Body: body });
  expect((await mailroom.accept(JSON.stringify(signed))).kind).toBe('accepted');
  return signed.Header.Correlation;
};
const deadLetters = async () => (await mailroom.stats()).deadLetters;

beforeAll(async () => {
  server = await startNatsServer();
  fixture = await makeFixture({
    natsUrl: server.url,
    local: ['shop.example'],
    remote: ['orders.example'],
    extra: { http: { port: 0, adminTokens: [TOKEN] }, delivery: { maxAttempts: 2, retry: { initialDelay: 20, maxDelay: 50 } } },
  });
  mailroom = await startMailroom(fixture.config, {
    handlers: {
      'shop.example': {
        'Hello@Host': ({ body }) => ({ echo: body }),
        'Pay@Shop': () => {
          if (!healthy) throw new RetryableError('the payment service is down', 10);
          return { paid: true };
        },
      },
    },
    outboxWorker: false,
    onAudit: (entry) => audits.push(entry),
    onError: () => undefined,
  });
  mailroom.events.on('settled', (status) => settled.push(status));
  for (let n = 0; n < 30; n++) hellos.push(await accept('Hello@Host', { n }));
  for (let n = 0; n < 6; n++) pays.push(await accept('Pay@Shop', { n }));
  for (let n = 0; n < 2; n++) nopes.push(await accept('Nope@Host', { n }));
  await waitFor(async () => (await deadLetters()) === 6 && settled.filter((s) => s.state === 'replied').length === 30 && settled.filter((s) => s.correlation && nopes.includes(s.correlation)).length === 2, {
    what: 'every envelope settled',
    timeoutMs: 30_000,
  });
}, 60_000);
afterAll(async () => {
  await mailroom?.stop();
  await server?.stop();
});

describe('the operators API', () => {
  it('is admin-only: no token, no data; a cross-origin POST is refused even with the token', async () => {
    for (const [method, path] of [
      ['GET', '/envelopes'],
      ['GET', `/envelopes/orders.example/${hellos[0]}/detail`],
      ['POST', '/envelopes/outcomes'],
      ['GET', '/dead-letters?reason=max-attempts'],
      ['GET', '/dead-letters/groups'],
      ['POST', '/dead-letters/replay'],
      ['POST', '/dead-letters/purge'],
    ] as const) {
      const res = await fetch(`${mailroom.url}${path}`, { method, ...(method === 'POST' ? { body: '{"upTo":1000}', headers: { 'content-type': 'application/json' } } : {}) });
      expect(res.status, `${method} ${path}`).toBe(401);
      expect(await res.text()).not.toContain('orders.example');
    }
    const evil = await fetch(`${mailroom.url}/dead-letters/purge`, { method: 'POST', body: '{"upTo":1000}', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json', origin: 'https://evil.example' } });
    expect(evil.status).toBe(403);
    const form = await fetch(`${mailroom.url}/dead-letters/purge`, { method: 'POST', body: '{"upTo":1000}', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'text/plain' } });
    expect(form.status).toBe(415);
    expect(await deadLetters()).toBe(6);
    // Refused bulk actions are in the audit too: without a token (denied) and cross-origin.
    expect(audits.find((a) => a.action === 'dead-letter.purge-bulk' && a.status === 401)).toMatchObject({ who: 'anonymous', outcome: 'denied' });
    expect(audits.find((a) => a.action === 'dead-letter.replay-bulk' && a.status === 401)).toMatchObject({ outcome: 'denied' });
    expect(audits.find((a) => a.action === 'dead-letter.purge-bulk' && a.status === 403)).toBeDefined();
  });

  it('pages through every envelope of the status store, newest first, with a cursor', async () => {
    const seen: string[] = [];
    let cursor = '';
    let pages = 0;
    for (;;) {
      const { status, body } = await api(`/envelopes?limit=7${cursor ? `&cursor=${cursor}` : ''}`);
      expect(status).toBe(200);
      expect(body.envelopes.length).toBeLessThanOrEqual(7);
      seen.push(...body.envelopes.map((e: { correlation: string }) => e.correlation));
      pages++;
      if (!body.next) break;
      cursor = body.next;
    }
    expect(pages).toBeGreaterThanOrEqual(6);
    expect(new Set(seen).size).toBe(seen.length);
    expect(new Set(seen)).toEqual(new Set([...hellos, ...pays, ...nopes]));
    // Newest first: the first page's updates are no older than the last page's.
    const first = await api('/envelopes?limit=1');
    expect(first.body.envelopes[0].body).toBeUndefined();
    expect(first.body.capped).toBe(false);
  });

  it('filters by state, reason, subject, sender and time', async () => {
    const count = async (query: string) => {
      const { status, body } = await api(`/envelopes?limit=500&${query}`);
      expect(status, query).toBe(200);
      return body.envelopes as EnvelopeStatus[];
    };
    expect((await count('state=replied')).length).toBe(30);
    expect((await count('state=deadLettered')).map((e) => e.correlation).sort()).toEqual([...pays].sort());
    expect((await count('reason=unknown-subject')).map((e) => e.correlation).sort()).toEqual([...nopes].sort());
    expect((await count('reason=max-attempts')).length).toBe(6);
    expect((await count('subject=pay')).length).toBe(6);
    expect((await count('from=orders.example')).length).toBe(38);
    expect((await count('from=nobody.example')).length).toBe(0);
    expect((await count('state=replied,deadLettered&subject=hello')).length).toBe(30);
    expect((await count('since=1m')).length).toBe(38);
    expect((await count(`until=${encodeURIComponent(new Date(Date.now() - 3_600_000).toISOString())}`)).length).toBe(0);
    expect((await count(`since=${encodeURIComponent(new Date(Date.now() + 3_600_000).toISOString())}`)).length).toBe(0);
    expect((await api('/envelopes?since=yesterday-ish')).status).toBe(400);
    expect((await api('/envelopes?cursor=abc')).status).toBe(400);
  });

  it('bounds a search by a scan cap, says so, and goes on from where it stopped', async () => {
    const capped = await mailroom.queries.envelopes.list({ states: ['no-such-state'] }, { scanCap: 5 });
    expect(capped).toMatchObject({ envelopes: [], scanned: 5, capped: true });
    expect(capped.next).toBeDefined();
    let page = capped;
    let scanned = page.scanned;
    while (page.next) {
      page = await mailroom.queries.envelopes.list({ states: ['no-such-state'] }, { scanCap: 5, cursor: page.next });
      scanned += page.scanned;
    }
    expect(scanned).toBe(38);
    expect(page.capped).toBe(false);
  });

  it('shows one envelope: headers, body, runs, its dead letter; and a replied one with its reply', async () => {
    const { status, body } = await api(`/envelopes/orders.example/${pays[0]}/detail`);
    expect(status).toBe(200);
    expect(body.status).toMatchObject({ state: 'deadLettered', correlation: pays[0] });
    expect(body.headersFrom).toBe('dead-letter');
    expect(JSON.parse(body.headers.text)).toMatchObject({ From: 'orders.example', To: 'shop.example', Subject: 'Pay@Shop', Correlation: pays[0] });
    expect(JSON.parse(body.body.text)).toEqual({ n: 0 });
    expect(body.deadLetters).toHaveLength(1);
    expect(body.deadLetters[0]).toMatchObject({ reason: 'max-attempts', queue: 'inbox', envelope: { correlation: pays[0] } });
    expect(JSON.stringify(body)).not.toMatch(/MAILROOM|_DLQ|\$KV|inbox\.shop/i);
    expect(body.runs.map((r: { kind: string }) => r.kind)).toEqual(['first', 'retry']);

    const hello = await api(`/envelopes/orders.example/${hellos[3]}/detail`);
    expect(hello.body.status.state).toBe('replied');
    expect(hello.body.reply).toMatchObject({ from: 'shop.example', to: 'orders.example', subject: 'Reply@Hello@Host' });
    expect(typeof hello.body.reply.correlation).toBe('string');
    expect(hello.body.deadLetters).toEqual([]);
    expect((await api('/envelopes/orders.example/no-such/detail')).status).toBe(404);
  });

  it('groups dead letters by reason, replays a confirmed count and reports the new outcome', async () => {
    const groups = await api('/dead-letters/groups');
    expect(groups.body).toMatchObject({ total: 6, capped: false, groups: [{ reason: 'max-attempts', count: 6 }] });
    expect((await api('/dead-letters/groups?subject=hello')).body.total).toBe(0);
    const list = await api('/dead-letters?limit=4');
    expect(list.body.deadLetters).toHaveLength(4);
    expect(list.body.deadLetters[0].data).toBeUndefined();
    expect(list.body.deadLetters[0].deadLetteredAt).toMatch(/^\d{4}-/);
    const rest = await api(`/dead-letters?limit=4&cursor=${list.body.next}`);
    expect(rest.body.deadLetters).toHaveLength(2);
    expect(rest.body.next).toBeUndefined();

    expect((await post('/dead-letters/replay', { reason: 'max-attempts' })).status).toBe(400);
    healthy = true;
    const replay = await post('/dead-letters/replay', { reason: 'max-attempts', upTo: groups.body.upTo });
    expect(replay.status).toBe(200);
    expect(replay.body.done).toHaveLength(6);
    expect(replay.body.failed).toEqual([]);
    const keys = replay.body.done.map((d: { from: string; correlation: string }) => ({ from: d.from, correlation: d.correlation }));
    const outcome = await waitFor(async () => {
      const { body } = await post('/envelopes/outcomes', { envelopes: keys, since: replay.body.at });
      return body.counts.replied === 6 ? body : undefined;
    }, { what: 'the replayed envelopes to reply', timeoutMs: 20_000 });
    expect(outcome.pending).toBe(0);
    // A status not written since the replay is not its outcome: it is still waiting to run.
    const untouched = await post('/envelopes/outcomes', { envelopes: [{ from: 'orders.example', correlation: hellos[0] }], since: new Date(Date.now() + 60_000).toISOString() });
    expect(untouched.body).toMatchObject({ counts: { waiting: 1 }, pending: 1 });
    expect((await post('/envelopes/outcomes', { envelopes: 'nope' })).status).toBe(400);
    expect((await api('/dead-letters/groups')).body.total).toBe(0);
    expect(audits.find((a) => a.action === 'dead-letter.replay-bulk' && a.status === 200)).toMatchObject({ who: expect.stringMatching(/^token:/), ids: { count: '6', reason: 'max-attempts' }, outcome: 'ok' });
    // The detail now shows the replay as a run of its own.
    const detail = await api(`/envelopes/orders.example/${pays[1]}/detail`);
    expect(detail.body.runs.map((r: { kind: string }) => r.kind)).toContain('replay');
  });

  it('purges only what was counted: a dead letter that came in after the count stays', async () => {
    healthy = false;
    await accept('Pay@Shop', { late: 0 });
    await waitFor(async () => (await deadLetters()) === 1, { what: 'one dead letter' });
    const groups = await api('/dead-letters/groups?reason=max-attempts');
    expect(groups.body.total).toBe(1);
    const later = await accept('Pay@Shop', { late: 1 });
    await waitFor(async () => (await deadLetters()) === 2, { what: 'a second dead letter' });
    const purge = await post('/dead-letters/purge', { reason: 'max-attempts', upTo: groups.body.upTo });
    expect(purge.body.done).toHaveLength(1);
    const left = await api('/dead-letters');
    expect(left.body.deadLetters.map((l: { envelope: { correlation: string } }) => l.envelope.correlation)).toEqual([later]);
    expect(audits.find((a) => a.action === 'dead-letter.purge-bulk' && a.status === 200)).toMatchObject({ ids: { count: '1' }, outcome: 'ok' });
    // The refused text/plain attempt of the first test is in the audit too.
    expect(audits.find((a) => a.action === 'dead-letter.purge-bulk' && a.status === 415)).toMatchObject({ outcome: 'failed' });
  });
});
