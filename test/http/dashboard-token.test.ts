/**
 * The dashboard against a runtime with an admin token, in headless Chromium: the page asks for
 * the token once, keeps it in sessionStorage, sends it as a header on every fetch (the live
 * stream too, read with fetch), and never puts it in a URL. Screenshot:
 * test-artifacts/dashboard-token.png (the token form) and dashboard-token-live.png. The runtime
 * runs with the ingress worker thread, so every request passes through it.
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
import { waitFor } from '../support/wait-for.ts';
import { startMailroom } from '../../src/mailroom/start-mailroom.ts';
import type { Mailroom } from '../../src/core/mailroom-types.ts';
import { startObservability, type Observability } from '../../src/observability/observability.ts';

const CHROMIUM = process.env.CHROMIUM_PATH ?? ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((path) => existsSync(path));
const SKIP_REASON = 'SKIPPED: chromium is not installed (apt-get install chromium, or set CHROMIUM_PATH); the dashboard with a token was NOT tested';
const artifacts = fileURLToPath(new URL('../../test-artifacts/', import.meta.url));
const TOKEN = 'dashboard-token-0123456789abcdef';

let server: NatsServerHandle;
let fixture: Fixture;
let observability: Observability;
let mailroom: Mailroom;
let browser: BrowserContext;
let page: Page;
let profile: string;

beforeAll(async () => {
  if (!CHROMIUM) return;
  server = await startNatsServer();
  fixture = await makeFixture({ natsUrl: server.url, local: ['shop.example'], remote: ['orders.example'], extra: { http: { port: 0, adminTokens: [TOKEN] } } });
  observability = await startObservability({ tracing: false });
  // Behind the ingress worker thread (as `mailroom start` runs): the page, its API calls and the live
  // stream all pass through it to the runtime's server (dashboard.test.ts covers the inline ingress).
  mailroom = await startMailroom(fixture.config, {
    ...observability.mailroomOptions,
    ingress: 'worker',
    handlers: { 'shop.example': { 'Hello@Host': ({ body }) => ({ echo: body }) } },
    outboxWorker: false,
    onError: () => undefined,
  });
  observability.attach(mailroom);
  profile = await mkdtemp(join(tmpdir(), 'mailroom-chromium-'));
  browser = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1500, height: 1100 },
  });
  page = await browser.newPage();
  page.setDefaultTimeout(10_000);
});
afterAll(async () => {
  await browser?.close();
  await mailroom?.stop();
  await observability?.stop();
  await server?.stop();
  if (profile) await rm(profile, { recursive: true, force: true });
});

describe.skipIf(!CHROMIUM)('the dashboard with an admin token', () => {
  it('asks for the token once, then works live with it as a header, never in a URL', async () => {
    const requests: { url: string; authorization?: string }[] = [];
    page.on('request', (request) => requests.push({ url: request.url(), authorization: request.headers()['authorization'] }));
    await page.goto(`${mailroom.url}/?refresh=400`);
    await page.locator('#token-form:not([hidden])').waitFor();
    await mkdir(artifacts, { recursive: true });
    await page.screenshot({ path: join(artifacts, 'dashboard-token.png') });

    // A wrong token: asked again, with the runtime's reason.
    await page.fill('#token-input', 'not-the-token-0123456789');
    await page.click('#token-form button[type=submit]');
    await page.locator('#token-note', { hasText: 'not one of' }).waitFor();
    await page.locator('#token-form:not([hidden])').waitFor();

    await page.fill('#token-input', TOKEN);
    await page.click('#token-form button[type=submit]');
    await page.locator('#live.on').waitFor();
    await expect(page.locator('#token-form').isHidden()).resolves.toBe(true);
    expect(await page.locator('.machine[data-machine="envelope"] g.state').count()).toBe(12);
    await page.locator('#stat-dead-letters', { hasText: '0' }).waitFor();

    // Live: an envelope's reply moves the badge through the stream read with fetch.
    const envelope = fixture.domains['orders.example']!.sign({ To: 'shop.example', Subject: 'Hello@Host', Body: { live: true } });
    expect((await fetch(`${mailroom.url}/inbox`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(envelope) })).status).toBe(202);
    await page.locator(`#envelopes tr[data-correlation="${envelope.Header.Correlation}"][data-state="replied"]`).waitFor();
    await waitFor(async () => (await page.locator('.machine[data-machine="envelope"] [data-count="replied"]').textContent()) === '1', { what: 'replied to count 1' });

    // Kept for this tab: a reload does not ask again.
    await page.reload();
    await page.locator('#live.on').waitFor();
    await expect(page.locator('#token-form').isHidden()).resolves.toBe(true);
    await page.screenshot({ path: join(artifacts, 'dashboard-token-live.png'), fullPage: true });

    expect(requests.filter((r) => r.url.includes(TOKEN))).toEqual([]);
    const api = requests.filter((r) => /\/(dashboard\/api|stats|dead-letters|workflows)/.test(r.url) && r.authorization !== undefined);
    expect(api.length).toBeGreaterThan(0);
    expect(api.filter((r) => r.authorization === `Bearer ${TOKEN}`).some((r) => r.url.endsWith('/dashboard/api/stream'))).toBe(true);
  });
});

if (!CHROMIUM) describe('the dashboard with a token, without chromium', () => it.skip(SKIP_REASON, () => undefined));
