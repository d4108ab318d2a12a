/**
 * The /inspect relay page when Stately Inspector cannot be reached (offline, blocked): after
 * its timeout the page hides the empty frame and explains what to do instead; with an inspector
 * that answers, it never does. Headless Chromium; screenshots: test-artifacts/inspector-offline-1280.png, -420.png.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type BrowserContext } from 'playwright-core';
import { startNatsServer, type NatsServerHandle } from '../support/nats-server.ts';
import { freePort } from '../support/processes.ts';
import { makeFixture, type Fixture } from '../support/runtime-fixture.ts';
import { startMailroom } from '../../src/mailroom/start-mailroom.ts';
import type { Mailroom } from '../../src/core/mailroom-types.ts';
import { startObservability, type Observability } from '../../src/observability/observability.ts';

const CHROMIUM = process.env.CHROMIUM_PATH ?? ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((path) => existsSync(path));
const SKIP_REASON = 'SKIPPED: chromium is not installed (apt-get install chromium, or set CHROMIUM_PATH); the inspector page offline was NOT tested';
if (!CHROMIUM) process.stderr.write(`\n${SKIP_REASON}\n\n`);
const artifacts = fileURLToPath(new URL('../../test-artifacts/', import.meta.url));

let server: NatsServerHandle;
let fixture: Fixture;
let observability: Observability;
let mailroom: Mailroom;
let browser: BrowserContext;
let profile: string;
let closedPort: number;
let stand: Server;


beforeAll(async () => {
  if (!CHROMIUM) return;
  server = await startNatsServer();
  fixture = await makeFixture({ natsUrl: server.url, local: ['shop.example'] });
  observability = await startObservability({ inspector: { port: 0 }, metrics: false, tracing: false });
  mailroom = await startMailroom(fixture.config, { ...observability.mailroomOptions, outboxWorker: false, onError: () => undefined });
  observability.attach(mailroom);
  closedPort = await freePort();
  // Stands in for a reachable inspector: says it is connected.
  stand = createServer((_request, response) => {
    response.writeHead(200, { 'content-type': 'text/html' });
    response.end(`<!doctype html><p>stand-in inspector</p><script>window.parent.postMessage({ type: '@statelyai.connected' }, '*');</script>`);
  });
  await new Promise<void>((resolve) => stand.listen(0, '127.0.0.1', () => resolve()));
  profile = await mkdtemp(join(tmpdir(), 'mailroom-chromium-'));
  browser = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1280, height: 900 },
  });
});
afterAll(async () => {
  await browser?.close();
  await mailroom?.stop();
  await observability?.stop();
  await server?.stop();
  await new Promise<void>((resolve) => (stand ? stand.close(() => resolve()) : resolve()));
  if (profile) await rm(profile, { recursive: true, force: true });
});

describe.skipIf(!CHROMIUM)('the /inspect relay page without Stately Inspector', () => {
  it('explains that the inspector cannot be reached and how to do without it, instead of an empty frame', async () => {
    const page = await browser.newPage();
    page.setDefaultTimeout(20_000);
    const unreachable = `http://127.0.0.1:${closedPort}/inspect`;
    await page.goto(`${mailroom.url}/inspect?inspector=${encodeURIComponent(unreachable)}&timeout=1500`);
    await page.locator('#offline').waitFor({ state: 'visible' });
    await expect(page.locator('body').getAttribute('data-inspector')).resolves.toBe('unreachable');
    await expect(page.locator('#inspector').isHidden()).resolves.toBe(true);
    const text = (await page.locator('#offline').textContent())!;
    expect(text).toContain('could not be reached');
    expect(text).toContain(unreachable);
    expect(text).toContain(`ws://`);
    expect(text).toContain('createWebSocketReceiver');
    expect(text).toContain('mailroom machines export');
    // The relay itself still works: connected to the runtime's WebSocket.
    await page.locator('#status.ok').waitFor();
    await mkdir(artifacts, { recursive: true });
    await page.screenshot({ path: join(artifacts, 'inspector-offline-1280.png'), fullPage: true });
    await page.setViewportSize({ width: 420, height: 900 });
    await page.screenshot({ path: join(artifacts, 'inspector-offline-420.png'), fullPage: true });
    await page.close();
  });

  it('shows the inspector, never the explanation, when it answers', async () => {
    const page = await browser.newPage();
    page.setDefaultTimeout(20_000);
    const reachable = `http://127.0.0.1:${(stand.address() as { port: number }).port}/inspect`;
    await page.goto(`${mailroom.url}/inspect?inspector=${encodeURIComponent(reachable)}&timeout=1500`);
    await page.locator('body[data-inspector="connected"]').waitFor({ state: 'attached' });
    // Connected cancels the timer: the explanation cannot appear any more.
    await expect(page.locator('#offline').isHidden()).resolves.toBe(true);
    await expect(page.locator('#inspector').isVisible()).resolves.toBe(true);
    await page.close();
  });
});

if (!CHROMIUM) describe('the inspector page without chromium', () => it.skip(SKIP_REASON, () => undefined));
