/**
 * Workflows over HTTP: `GET /workflows` (summaries, newest first, filtered by status, name and
 * state) and `GET /workflows/{id}` (the full WorkflowInfo, IDs with slashes included), and the
 * dashboard's Workflows panel in headless Chromium (skipped without Chromium; a screenshot of
 * the panel is kept in test-artifacts/workflows.png).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { startNatsServer, type NatsServerHandle } from '../support/nats-server.ts';
import { makeFixture, type Fixture } from '../support/runtime-fixture.ts';
import { startMailroom } from '../../src/mailroom/start-mailroom.ts';
import type { Mailroom } from '../../src/core/mailroom-types.ts';
import { startObservability, type Observability } from '../../src/observability/observability.ts';
import type { WorkflowInfo } from '../../src/workflows/workflow-types.ts';
import type { WorkflowSummary } from '../../src/http/http-server.ts';
import { ticket } from '../support/ticket-machine.ts';

const CHROMIUM = process.env.CHROMIUM_PATH ?? ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((path) => existsSync(path));
const artifacts = fileURLToPath(new URL('../../test-artifacts/', import.meta.url));
if (!CHROMIUM) process.stderr.write('\nSKIPPED: chromium is not installed; the Workflows panel of the dashboard was NOT tested in a browser\n\n');


let server: NatsServerHandle;
let fixture: Fixture;
let observability: Observability;
let mailroom: Mailroom;
const SLASHED = 'shop.example/corr-1';

beforeAll(async () => {
  server = await startNatsServer();
  fixture = await makeFixture({ natsUrl: server.url, local: ['shop.example'] });
  observability = await startObservability({ metrics: false, tracing: false });
  mailroom = await startMailroom(fixture.config, { ...observability.mailroomOptions, workflows: [{ machine: ticket }], outboxWorker: false, onError: () => undefined });
  const wf = mailroom.workflows;
  await wf.start('ticket', undefined, { id: 't-open' });
  await wf.start('ticket', undefined, { id: 't-coding' });
  await wf.send('t-coding', { type: 'work' });
  await wf.start('ticket', undefined, { id: 't-review' });
  await wf.send('t-review', { type: 'work' });
  await wf.send('t-review', { type: 'review' });
  await wf.start('ticket', undefined, { id: SLASHED });
  for (const type of ['work', 'review', 'approve'] as const) await wf.send(SLASHED, { type });
  await wf.start('ticket', undefined, { id: 't-cancelled' });
  await wf.cancel('t-cancelled', 'duplicate ticket');
});
afterAll(async () => {
  await mailroom?.stop();
  await observability?.stop();
  await server?.stop();
});

const get = async <T>(path: string): Promise<{ status: number; body: T }> => {
  const res = await fetch(`${mailroom.url}${path}`);
  return { status: res.status, body: (await res.json()) as T };
};
const ids = (list: { workflows: WorkflowSummary[] }) => list.workflows.map((w) => w.id).sort();

describe('GET /workflows', () => {
  it('lists every workflow newest first, as summaries: state, status, last event, what it waits on; no context or history', async () => {
    const { status, body } = await get<{ total: number; workflows: WorkflowSummary[] }>('/workflows');
    expect(status).toBe(200);
    expect(body.total).toBe(5);
    expect(ids(body)).toEqual([SLASHED, 't-cancelled', 't-coding', 't-open', 't-review'].sort());
    const created = body.workflows.map((w) => w.createdAt);
    expect(created).toEqual([...created].sort((a, b) => b - a));
    const review = body.workflows.find((w) => w.id === 't-review')!;
    expect(review).toMatchObject({ name: 'ticket', status: 'running', state: { working: 'reviewing' }, seq: 3, lastEvent: 'review', activities: [], timers: [] });
    expect(review).not.toHaveProperty('context');
    expect(review).not.toHaveProperty('history');
    expect(body.workflows.find((w) => w.id === 't-cancelled')).toMatchObject({ status: 'cancelled', error: { message: 'duplicate ticket' }, lastEvent: 'mailroom.cancel' });
  });

  it('filters by status, name and state (a path, a parent state, or a state value as JSON), and limits', async () => {
    expect(ids((await get<{ workflows: WorkflowSummary[] }>('/workflows?status=done')).body)).toEqual([SLASHED]);
    expect(ids((await get<{ workflows: WorkflowSummary[] }>('/workflows?status=running&name=ticket')).body)).toEqual(['t-coding', 't-open', 't-review']);
    expect((await get<{ total: number }>('/workflows?name=nope')).body.total).toBe(0);
    expect(ids((await get<{ workflows: WorkflowSummary[] }>('/workflows?state=working')).body)).toEqual(['t-coding', 't-review']);
    expect(ids((await get<{ workflows: WorkflowSummary[] }>('/workflows?state=working.reviewing')).body)).toEqual(['t-review']);
    expect(ids((await get<{ workflows: WorkflowSummary[] }>(`/workflows?state=${encodeURIComponent('{"working":"coding"}')}`)).body)).toEqual(['t-coding']);
    // Empty parameters are no filter.
    expect((await get<{ total: number }>('/workflows?status=&name=&state=')).body.total).toBe(5);
    const limited = await get<{ total: number; workflows: WorkflowSummary[] }>('/workflows?limit=2');
    expect(limited.body.total).toBe(5);
    expect(limited.body.workflows).toHaveLength(2);
  });

  it('answers 400 for an unknown status or a state that is not JSON', async () => {
    const bad = await get<{ error: string; detail: string }>('/workflows?status=finished');
    expect(bad).toMatchObject({ status: 400, body: { error: 'bad-request' } });
    expect(bad.body.detail).toContain('running, done, failed, cancelled, parked');
    expect((await get('/workflows?state=%7Bnot-json')).status).toBe(400);
  });
});

describe('GET /workflows/{id}', () => {
  it('returns the WorkflowInfo: context, history, output', async () => {
    const { status, body } = await get<WorkflowInfo>('/workflows/t-review');
    expect(status).toBe(200);
    expect(body).toMatchObject({ id: 't-review', status: 'running', state: { working: 'reviewing' }, context: { notes: ['started'] } });
    expect(body.history.map((h) => h.event)).toEqual(['xstate.init', 'work', 'review']);
  });

  it('finds an ID with slashes, encoded or not, and answers 404 for an unknown one', async () => {
    for (const path of [`/workflows/${encodeURIComponent(SLASHED)}`, `/workflows/${SLASHED}`]) {
      const { status, body } = await get<WorkflowInfo>(path);
      expect(status).toBe(200);
      expect(body).toMatchObject({ id: SLASHED, status: 'done', state: 'closed', output: { notes: 1 } });
    }
    expect(await get('/workflows/no-such-workflow')).toMatchObject({ status: 404, body: { error: 'not-found' } });
  });
});

describe('the dashboard', () => {
  it('serves a Workflows panel', async () => {
    const html = await (await fetch(`${mailroom.url}/`)).text();
    expect(html).toContain('id="workflows-panel"');
    const script = await (await fetch(`${mailroom.url}/dashboard/dashboard.js`)).text();
    expect(script).toContain('/workflows?');
  });
});

describe.skipIf(!CHROMIUM)('the Workflows panel in a browser', () => {
  let browser: BrowserContext;
  let page: Page;
  let profile: string;
  beforeAll(async () => {
    profile = await mkdtemp(join(tmpdir(), 'mailroom-chromium-'));
    browser = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      viewport: { width: 1500, height: 1100 },
    });
    page = await browser.newPage();
    page.setDefaultTimeout(10_000);
  });
  afterAll(async () => {
    await browser?.close();
    if (profile) await rm(profile, { recursive: true, force: true });
  });

  it('lists workflows with state and status, follows a step live, filters, and shows one\'s path and context', async () => {
    await page.goto(`${mailroom.url}/?refresh=300`);
    const row = (id: string) => page.locator(`#workflows tr[data-workflow="${id}"]`);
    await row('t-coding').waitFor();
    await expect(row('t-coding').locator('.wf-state').textContent()).resolves.toBe('working.coding');
    await expect(row(SLASHED).locator('.pill.wf-done').textContent()).resolves.toBe('done');
    await expect(page.locator('#workflows tr').count()).resolves.toBe(5);

    // A step taken now shows up at the next refresh.
    await mailroom.workflows.send('t-open', { type: 'work' });
    await page.locator('#workflows tr[data-workflow="t-open"] .wf-state', { hasText: 'working.coding' }).waitFor();

    await page.selectOption('#workflow-status', 'done');
    await page.locator('#workflows tr[data-workflow="t-coding"]').waitFor({ state: 'detached' });
    await expect(page.locator('#workflows tr').count()).resolves.toBe(1);

    await row(SLASHED).click();
    await page.locator('#workflow-detail:not([hidden])').waitFor();
    await expect(page.locator('#workflow-detail-path .step').allTextContents()).resolves.toEqual(['open', 'working.coding', 'working.reviewing', 'closed']);
    await expect(page.locator('#workflow-detail-context').textContent()).resolves.toContain('"notes": 1');
    await page.selectOption('#workflow-status', '');
    await page.locator('#workflows tr[data-workflow="t-coding"]').waitFor();
    await mkdir(artifacts, { recursive: true });
    await page.locator('#workflows-panel').screenshot({ path: join(artifacts, 'workflows.png') });
  });
});
