/**
 * `mailroom start` as a user runs it: embedded nats-server, Ctrl-C (SIGINT to the whole
 * process group, as a terminal sends it), and a second start that finds everything.
 */
import { describe, expect, it } from 'vitest';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeDomain } from '../support/runtime-fixture.ts';
import { waitFor } from '../support/wait-for.ts';
import { alive, freePort } from '../support/processes.ts';

const bin = fileURLToPath(new URL('../../bin/mailroom.js', import.meta.url));



function start(config: string, flags: readonly string[] = []): { child: ChildProcess; output: () => string; exited: Promise<number | null> } {
  const child = spawn(process.execPath, [bin, 'start', '-c', config, ...flags], { detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NATS_URL: '', MAILROOM_NATS_URL: '' } });
  let out = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (out += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, output: () => out, exited };
}

describe('mailroom start', () => {
  it('starts an embedded nats-server, stops cleanly on Ctrl-C, and a second start finds every accepted envelope', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mailroom-start-'));
    const shop = await makeDomain(dir, 'shop.example');
    const orders = await makeDomain(dir, 'orders.example');
    await writeFile(join(dir, 'handlers.mjs'), "export default { 'Hello@Host': async ({ body }) => { await new Promise((r) => setTimeout(r, 30)); return { echo: body }; } };\n");
    const port = await freePort();
    const config = join(dir, 'mailroom.yaml');
    await writeFile(
      config,
      [
        `http: { port: ${port}, sendAs: [orders.example] }`,
        'domains:',
        `  - { name: shop.example, selector: pw1, privateKey: ${shop.privateKeyPath}, handlers: ./handlers.mjs }`,
        `  - { name: orders.example, selector: pw1, privateKey: ${orders.privateKeyPath} }`,
        // Messages in transit to a stopping process are redelivered after the ack wait: keep it short here.
        'delivery: { concurrency: 4, ackWait: 2s }',
      ].join('\n'),
    );

    const first = start(config, ['--no-crypto-pool']);
    await waitFor(() => first.output().includes('ready; Ctrl-C to stop'), { what: 'the runtime to be ready', timeoutMs: 30_000 });
    expect(first.output()).toContain('crypto:    verify and sign on the event loop (the --no-crypto-pool flag)');
    expect(first.output()).toContain('starting an embedded nats-server');
    expect(first.output()).toContain('/inbox (public, on its own thread;');
    const natsPid = Number(await readFile(join(dir, '.mailroom/nats/nats-server.pid'), 'utf8'));
    expect(alive(natsPid)).toBe(true);

    const envelopes = Array.from({ length: 60 }, (_, n) => orders.sign({ To: 'shop.example', Subject: 'Hello@Host', Body: { n } }));
    for (const envelope of envelopes) {
      const res = await fetch(`http://127.0.0.1:${port}/inbox`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(envelope) });
      expect(res.status).toBe(202);
    }
    // Ctrl-C in a terminal: SIGINT to the whole foreground process group.
    process.kill(-first.child.pid!, 'SIGINT');
    expect(await first.exited).toBe(0);
    expect(first.output()).toContain('SIGINT: finishing the envelopes in flight');
    expect(first.output()).toContain('stopped;');
    expect(alive(natsPid)).toBe(false);

    // The second start verifies and signs on the worker pool, with the inbox on the runtime thread: the same outcomes.
    const second = start(config, ['--crypto-pool', '--ingress', 'inline']);
    try {
      await waitFor(() => second.output().includes('ready; Ctrl-C to stop'), { what: 'the second start', timeoutMs: 30_000 });
      expect(second.output()).toMatch(/crypto: {4}verify and sign on \d+ worker threads? \(the --crypto-pool flag\)/);
      expect(second.output()).toContain('on the runtime thread (--ingress inline)');
      for (const envelope of envelopes) {
        const status = await waitFor(async () => {
          const res = await fetch(`http://127.0.0.1:${port}/envelopes/orders.example/${envelope.Header.Correlation}`);
          const body = res.ok ? ((await res.json()) as { final: boolean; state: string }) : undefined;
          return body?.final ? body : undefined;
        }, { what: `envelope ${envelope.Body && JSON.stringify(envelope.Body)} final`, timeoutMs: 20_000 });
        expect(status.state).toBe('replied');
      }
      // A request through the running runtime, as a conversation.
      const send = await new Promise<{ code: number; stdout: string }>((resolve) =>
        execFile(process.execPath, [bin, 'send', '-c', config, '--from', 'orders.example', '--to', 'shop.example', '--subject', 'Hello@Host', '--body', '{"x":1}', '--wait'], (error, stdout) =>
          resolve({ code: error ? Number(error.code ?? 1) : 0, stdout }),
        ),
      );
      expect(send.code).toBe(0);
      expect(send.stdout).toContain('conversation: replied');
      expect(send.stdout).toContain('"echo":{"x":1}');
    } finally {
      process.kill(-second.child.pid!, 'SIGINT');
      expect(await second.exited).toBe(0);
    }
  }, 120_000);
  it('a second start on the same config refuses at once ("already running, pid N") and leaves the first serving', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mailroom-start-twice-'));
    const shop = await makeDomain(dir, 'shop.example');
    const orders = await makeDomain(dir, 'orders.example');
    await writeFile(join(dir, 'handlers.mjs'), "export default { 'Hello@Host': async ({ body }) => ({ echo: body }) };\n");
    const port = await freePort();
    const config = join(dir, 'mailroom.yaml');
    await writeFile(
      config,
      [
        `http: { port: ${port} }`,
        'domains:',
        `  - { name: shop.example, selector: pw1, privateKey: ${shop.privateKeyPath}, handlers: ./handlers.mjs }`,
        `  - { name: orders.example, selector: pw1, privateKey: ${orders.privateKeyPath} }`,
      ].join('\n'),
    );
    const first = start(config);
    try {
      await waitFor(() => first.output().includes('ready; Ctrl-C to stop'), { what: 'the first runtime to be ready', timeoutMs: 30_000 });
      const natsPid = Number(await readFile(join(dir, '.mailroom/nats/nats-server.pid'), 'utf8'));

      const second = start(config);
      expect(await second.exited).not.toBe(0);
      expect(second.output()).toContain(`already running, pid ${first.child.pid}`);
      expect(second.output()).toMatch(/hint: .*storeDir/);

      // The first runtime's server was left alone: it still stores and answers.
      expect(alive(natsPid)).toBe(true);
      const envelope = orders.sign({ To: 'shop.example', Subject: 'Hello@Host', Body: { after: 'second start' } });
      const res = await fetch(`http://127.0.0.1:${port}/inbox`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(envelope) });
      expect(res.status).toBe(202);
      const status = await waitFor(async () => {
        const r = await fetch(`http://127.0.0.1:${port}/envelopes/orders.example/${envelope.Header.Correlation}`);
        const body = r.ok ? ((await r.json()) as { final: boolean; state: string }) : undefined;
        return body?.final ? body : undefined;
      }, { what: 'the envelope final', timeoutMs: 20_000 });
      expect(status.state).toBe('replied');
      expect(first.output()).not.toMatch(/lost the NATS connection/);
    } finally {
      process.kill(-first.child.pid!, 'SIGINT');
      expect(await first.exited).toBe(0);
    }
  }, 90_000);
});
