/**
 * Throughput over time: the sampler (a ring buffer of one-second samples of counters the
 * runtime keeps anyway), `GET /dashboard/api/throughput` against a real runtime and
 * nats-server (accepted, replied, discarded, dead-lettered add up to what happened), and the
 * uPlot charts in headless Chromium. Screenshots: test-artifacts/charts-1280.png, charts-420.png.
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
import { RetryableError } from '../../src/runtime/handlers.ts';
import { startObservability, type Observability } from '../../src/observability/observability.ts';
import { ThroughputSampler, type ThroughputSeries, type ThroughputTotals } from '../../src/observability/dashboard/throughput-sampler.ts';

const CHROMIUM = process.env.CHROMIUM_PATH ?? ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((path) => existsSync(path));
const SKIP_REASON = 'SKIPPED: chromium is not installed (apt-get install chromium, or set CHROMIUM_PATH); the throughput charts were NOT tested in a browser';
if (!CHROMIUM) process.stderr.write(`\n${SKIP_REASON}\n\n`);
const artifacts = fileURLToPath(new URL('../../test-artifacts/', import.meta.url));

describe('the throughput sampler', () => {
  const make = (capacity = 5) => {
    let clock = 1_000_000;
    let totals: ThroughputTotals = { accepted: 0, replied: 0, discarded: 0, deadLettered: 0 };
    const sampler = new ThroughputSampler({ read: () => totals, capacity, now: () => clock });
    return {
      sampler,
      tick: async (next: Partial<ThroughputTotals>) => {
        totals = { ...totals, ...next };
        clock += 1000;
        await sampler.sample();
      },
    };
  };

  it('records what each counter grew by per sample, oldest first; the first reading only sets the base', async () => {
    const { sampler, tick } = make();
    await sampler.sample();
    expect(sampler.series().times).toEqual([]);
    await tick({ accepted: 3, replied: 2 });
    await tick({ accepted: 10, replied: 2, discarded: 1 });
    const s = sampler.series();
    expect(s.step).toBe(1);
    expect(s.times).toEqual([1001, 1002]);
    expect(s.series).toEqual({ accepted: [3, 7], replied: [2, 0], discarded: [0, 1], deadLettered: [0, 0] });
    expect(sampler.series(1).series.accepted).toEqual([7]);
  });

  it('keeps the newest samples only (a ring buffer), counts a counter that went back from zero, and marks a missing one null', async () => {
    const { sampler, tick } = make(3);
    await sampler.sample();
    for (let n = 1; n <= 5; n++) await tick({ replied: n * n });
    expect(sampler.series().series.replied).toEqual([5, 7, 9]);
    await tick({ replied: 4 });
    expect(sampler.series().series.replied).toEqual([7, 9, 4]);
    await tick({ accepted: undefined });
    expect(sampler.series().series.accepted.at(-1)).toBeNull();
  });
});

let server: NatsServerHandle;
let fixture: Fixture;
let observability: Observability;
let mailroom: Mailroom;

beforeAll(async () => {
  server = await startNatsServer();
  fixture = await makeFixture({
    natsUrl: server.url,
    local: ['shop.example'],
    remote: ['orders.example'],
    extra: { delivery: { maxAttempts: 2, retry: { initialDelay: 20, maxDelay: 50 } } },
  });
  observability = await startObservability({ metrics: false, tracing: false });
  mailroom = await startMailroom(fixture.config, {
    ...observability.mailroomOptions,
    handlers: {
      'shop.example': {
        'Hello@Host': ({ body }) => ({ echo: body }),
        'Pay@Shop': () => {
          throw new RetryableError('the payment service is down', 10);
        },
      },
    },
    outboxWorker: false,
    onError: () => undefined,
  });
  observability.attach(mailroom);
});
afterAll(async () => {
  await mailroom?.stop();
  await observability?.stop();
  await server?.stop();
});

const send = async (subject: string, n: number) => {
  const envelope = fixture.domains['orders.example']!.sign({ To: 'shop.example', Subject: subject, Body: { n } });
  const res = await fetch(`${mailroom.url}/inbox`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(envelope) });
  expect(res.status).toBe(202);
};
const throughput = async () => (await (await fetch(`${mailroom.url}/dashboard/api/throughput`)).json()) as ThroughputSeries;
const sum = (values: readonly (number | null)[]) => values.reduce<number>((total, v) => total + (v ?? 0), 0);

describe('GET /dashboard/api/throughput', () => {
  it('adds up to what the runtime did: accepted, replied, discarded, dead-lettered', async () => {
    for (let n = 0; n < 5; n++) await send('Hello@Host', n);
    for (let n = 0; n < 2; n++) await send('Nope@Host', n);
    await send('Pay@Shop', 0);
    const totals = await waitFor(
      async () => {
        const s = await throughput();
        const got = { accepted: sum(s.series.accepted), replied: sum(s.series.replied), discarded: sum(s.series.discarded), deadLettered: sum(s.series.deadLettered) };
        return got.accepted === 8 && got.replied === 5 && got.discarded === 2 && got.deadLettered === 1 ? { s, got } : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 250, what: 'the samples to add up to 8 accepted, 5 replied, 2 discarded, 1 dead-lettered' },
    );
    expect(totals.s.step).toBe(1);
    // One sample a second: consecutive times.
    const { times } = totals.s;
    for (let i = 1; i < times.length; i++) expect(times[i]! - times[i - 1]!).toBeGreaterThanOrEqual(0);
    expect(times.length).toBeLessThanOrEqual(600);
    expect((await (await fetch(`${mailroom.url}/dashboard/api/throughput?seconds=2`)).json() as ThroughputSeries).times.length).toBeLessThanOrEqual(2);
  });
});

describe.skipIf(!CHROMIUM)('the throughput charts in Chromium', () => {
  let browser: BrowserContext;
  let page: Page;
  let profile: string;

  beforeAll(async () => {
    profile = await mkdtemp(join(tmpdir(), 'mailroom-chromium-'));
    browser = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      viewport: { width: 1280, height: 900 },
    });
    page = await browser.newPage();
    page.setDefaultTimeout(15_000);
  });
  afterAll(async () => {
    await browser?.close();
    if (profile) await rm(profile, { recursive: true, force: true });
  });

  it('draws four uPlot charts from the runtime (no CDN), and they follow new envelopes', async () => {
    const requests: string[] = [];
    page.on('request', (request) => requests.push(request.url()));
    await page.goto(`${mailroom.url}/?charts=300`);
    for (const key of ['accepted', 'replied', 'discarded', 'deadLettered']) await page.locator(`#charts .chart[data-series="${key}"] canvas`).waitFor();
    const before = Number(await page.locator('#charts .chart[data-series="replied"]').getAttribute('data-total'));
    for (let n = 10; n < 13; n++) await send('Hello@Host', n);
    await waitFor(async () => Number(await page.locator('#charts .chart[data-series="replied"]').getAttribute('data-total')) >= before + 3, { timeoutMs: 20_000, what: 'the replied chart to count 3 more' });
    const size = await page.locator('#charts .chart[data-series="accepted"] canvas').boundingBox();
    expect(size!.width).toBeGreaterThan(150);
    expect(size!.height).toBeGreaterThan(60);
    const origin = new URL(mailroom.url!).origin;
    expect(requests.filter((url) => !url.startsWith(origin))).toEqual([]);

    await mkdir(artifacts, { recursive: true });
    await page.locator('#charts').screenshot({ path: join(artifacts, 'charts-1280.png') });
    await page.setViewportSize({ width: 420, height: 900 });
    await waitFor(async () => ((await page.locator('#charts .chart[data-series="accepted"] canvas').boundingBox())?.width ?? 999) < 400, { what: 'the charts to fit 420 px' });
    await page.locator('#charts').screenshot({ path: join(artifacts, 'charts-420.png') });
    await page.setViewportSize({ width: 1280, height: 900 });
  });

  it('draws the statecharts (elk) legibly at 1280 and at 420 px: labels never shrink below ~9 px', async () => {
    await page.goto(`${mailroom.url}/`);
    const chart = page.locator('.machine[data-machine="envelope"] svg.statechart');
    await chart.waitFor();
    /** The size an 11-unit label is drawn at, in CSS px. */
    const labelPx = () => chart.evaluate((svg) => (svg.getBoundingClientRect().width / (svg as unknown as { viewBox: { baseVal: { width: number } } }).viewBox.baseVal.width) * 11);
    expect(await labelPx()).toBeGreaterThanOrEqual(10.9);
    await expect(page.locator('.machine[data-machine="envelope"] g.label').count()).resolves.toBeGreaterThanOrEqual(20);
    await mkdir(artifacts, { recursive: true });
    await page.locator('.machine[data-machine="envelope"]').screenshot({ path: join(artifacts, 'statechart-envelope-1280.png') });
    await page.setViewportSize({ width: 420, height: 900 });
    await waitFor(async () => (await labelPx()) < 10.9, { what: 'the chart to shrink at 420 px' });
    expect(await labelPx()).toBeGreaterThanOrEqual(8.7);
    await page.locator('.machine[data-machine="envelope"]').screenshot({ path: join(artifacts, 'statechart-envelope-420.png') });
    await page.locator('.machine[data-machine="conversation"]').screenshot({ path: join(artifacts, 'statechart-conversation-420.png') });
    await page.screenshot({ path: join(artifacts, 'dashboard-charts-page-420.png'), fullPage: true });
    await page.setViewportSize({ width: 1280, height: 900 });
  });
});

if (!CHROMIUM) describe('the throughput charts without chromium', () => it.skip(SKIP_REASON, () => undefined));
