/**
 * `mailroom start` logs: one access line per HTTP request (the ingress worker's `POST /inbox`
 * and the runtime's own routes), `trace_id` on every line about an envelope that came with a
 * `traceparent`, and route patterns, never capability URLs.
 */
import { describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeDomain } from '../support/runtime-fixture.ts';
import { waitFor } from '../support/wait-for.ts';
import { freePort } from '../support/processes.ts';

const bin = fileURLToPath(new URL('../../bin/mailroom.js', import.meta.url));
const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';

interface Line {
  msg: string;
  level: number;
  access?: boolean;
  method?: string;
  route?: string;
  status?: number;
  durationMs?: number;
  trace_id?: string;
  correlation?: string;
}

describe('mailroom start logs', () => {
  it('an info access line per request, trace_id on every line of a traced envelope, no capability secret', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mailroom-access-log-'));
    const shop = await makeDomain(dir, 'shop.example');
    const orders = await makeDomain(dir, 'orders.example');
    await writeFile(join(dir, 'handlers.mjs'), "export default { 'Hello@Host': ({ body }) => ({ echo: body }) };\n");
    const port = await freePort();
    const config = join(dir, 'mailroom.yaml');
    await writeFile(
      config,
      [
        `http: { host: 127.0.0.1, port: ${port} }`,
        'domains:',
        `  - { name: shop.example, selector: pw1, privateKey: ${shop.privateKeyPath}, handlers: ./handlers.mjs }`,
        `  - { name: orders.example, selector: pw1, privateKey: ${orders.privateKeyPath} }`,
      ].join('\n'),
    );
    const child = spawn(process.execPath, [bin, 'start', '-c', config, '--json', '--log-level', 'debug'], { cwd: dir, detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NATS_URL: '', MAILROOM_NATS_URL: '' } });
    let out = '';
    child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr!.on('data', (c: Buffer) => (out += c.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    const lines = () => out.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Line);
    try {
      await waitFor(() => out.includes('ready; Ctrl-C to stop'), { what: 'the runtime to be ready', timeoutMs: 30_000 });
      const envelope = orders.sign({ To: 'shop.example', Subject: 'Hello@Host', Body: { n: 1 } });
      const traceparent = `00-${TRACE}-00f067aa0ba902b7-01`;
      const res = await fetch(`http://127.0.0.1:${port}/inbox`, { method: 'POST', headers: { 'content-type': 'application/json', traceparent }, body: JSON.stringify(envelope) });
      expect(res.status).toBe(202);
      const statusUrl = ((await res.json()) as { status: string }).status;
      expect((await fetch(statusUrl)).status).toBe(200);
      expect((await fetch(`http://127.0.0.1:${port}/dead-letters`)).status).toBe(200);
      // A replied envelope's own line is debug (info has a summary every 10 s): this runtime logs at debug.
      await waitFor(() => lines().some((l) => l.correlation === envelope.Header.Correlation && l.msg.startsWith('replied')), { what: 'the replied line', timeoutMs: 20_000 });
      await waitFor(() => lines().filter((l) => l.access).length >= 3, { what: 'three access lines', timeoutMs: 20_000 });

      const access = lines().filter((l) => l.access);
      const inbox = access.find((l) => l.method === 'POST' && l.route === '/inbox')!;
      expect(inbox).toMatchObject({ level: 30, status: 202, trace_id: TRACE });
      expect(inbox.durationMs).toBeGreaterThanOrEqual(0);
      expect(inbox.msg).toMatch(/^POST \/inbox 202 [\d.]+ ms/);
      expect(access.find((l) => l.route === '/dead-letters')).toMatchObject({ method: 'GET', status: 200, level: 30 });
      const capability = new URL(statusUrl).pathname;
      const status = access.find((l) => l.method === 'GET' && l.route !== '/dead-letters')!;
      expect(status.status).toBe(200);
      expect(out).not.toContain(capability); // the secret status URL is logged as its route pattern

      const aboutIt = lines().filter((l) => l.correlation === envelope.Header.Correlation);
      expect(aboutIt.length).toBeGreaterThan(0);
      for (const line of aboutIt) expect({ msg: line.msg, trace_id: line.trace_id }).toEqual({ msg: line.msg, trace_id: TRACE });
    } finally {
      process.kill(-child.pid!, 'SIGINT');
      expect(await exited).toBe(0);
    }
  }, 90_000);
});
