/**
 * The dual-channel example as a user runs it: two `mailroom start` processes, A (orders.example)
 * and B (shop.example), each with its own config. A's request travels to B's inbox over HTTP;
 * B's signed reply travels to A's inbox over HTTP, with the same correlation, and ends A's
 * conversation. The configs are the example's, on free ports and on this file's nats-server.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startNatsServer, type NatsServerHandle } from '../support/nats-server.ts';
import { waitFor } from '../support/wait-for.ts';
import { freePort } from '../support/processes.ts';
import type { EnvelopeStatus } from '../../src/runtime/status-store.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
const example = join(root, 'examples/dual-channel');

let server: NatsServerHandle;
beforeAll(async () => {
  server = await startNatsServer();
});
afterAll(async () => {
  await server?.stop();
});


/** The example's config with its ports replaced and its relative paths made absolute, in a temp folder. */
async function configOf(name: 'a' | 'b', ports: { a: number; b: number }, dir: string): Promise<string> {
  const text = (await readFile(join(example, `${name}.yaml`), 'utf8'))
    .replaceAll(':8081/', `:${ports.a}/`)
    .replaceAll(':8082/', `:${ports.b}/`)
    .replace(/port: 808[12]/, `port: ${ports[name]}`)
    .replaceAll('../quickstart/', `${join(root, 'examples/quickstart')}/`)
    .replaceAll('./keys/', `${join(example, 'keys')}/`)
    .replaceAll('./.mailroom/', `${dir}/.mailroom/`);
  const path = join(dir, `${name}.yaml`);
  await writeFile(path, text);
  return path;
}

function start(config: string): { child: ChildProcess; output: () => string; exited: Promise<number | null> } {
  const child = spawn(process.execPath, ['bin/mailroom.js', 'start', '-c', config], {
    cwd: root,
    env: { ...process.env, NATS_URL: server.url, MAILROOM_NATS_URL: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  return { child, output: () => output, exited: new Promise((resolve) => child.on('exit', (code) => resolve(code))) };
}

/** Waits for the line `mailroom start` logs once the runtime and its HTTP routes are up. */
async function ready(output: () => string): Promise<void> {
  await waitFor(() => output().includes('ready; Ctrl-C to stop'), { timeoutMs: 60_000, what: 'the runtime ready' });
}

async function finalStatus(url: string, from: string, correlation: string): Promise<EnvelopeStatus> {
  return waitFor(async () => {
    const res = await fetch(`${url}/envelopes/${from}/${correlation}`);
    if (!res.ok) return undefined;
    const status = (await res.json()) as EnvelopeStatus;
    return status.final ? status : undefined;
  }, { what: `the status of ${from}/${correlation} at ${url}` });
}

describe('examples/dual-channel', () => {
  it('the request arrives at B over HTTP, the reply at A over HTTP, correlated', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mailroom-dual-'));
    const ports = { a: await freePort(), b: await freePort() };
    const a = start(await configOf('a', ports, dir));
    const b = start(await configOf('b', ports, dir));
    const urlA = `http://127.0.0.1:${ports.a}`;
    const urlB = `http://127.0.0.1:${ports.b}`;
    try {
      await ready(a.output);
      await ready(b.output);
      // What `mailroom send -c examples/dual-channel/a.yaml ... --wait` does: a conversation, from A.
      const res = await fetch(`${urlA}/conversations`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ from: 'orders.example', to: 'shop.example', subject: 'Hello@Host', body: { text: 'hi' } }),
      });
      expect(res.status, await res.clone().text()).toBe(202);
      const { correlation } = (await res.json()) as { correlation: string };

      // Channel 1: the request, in B's inbox (received over HTTP), handled, replied to.
      const request = await finalStatus(urlB, 'orders.example', correlation);
      expect(request).toMatchObject({ from: 'orders.example', to: 'shop.example', subject: 'Hello@Host', state: 'replied', verified: true, replyCorrelation: correlation, replySubject: 'Reply@Hello@Host' });
      expect(request.history.map((h) => h.state)).toEqual(['received', 'queued', 'validating', 'handling', 'replying', 'replied']);

      // Channel 2: the reply, in A's inbox (received over HTTP), an answer: it ends the conversation, no handler.
      const reply = await finalStatus(urlA, 'shop.example', correlation);
      expect(reply).toMatchObject({ from: 'shop.example', to: 'orders.example', subject: 'Reply@Hello@Host', correlation, state: 'replied', verified: true, body: { text: 'hello orders.example, you said "hi"' } });
      expect(reply.history.map((h) => h.state)).toEqual(['received', 'queued', 'validating', 'handling', 'replied']);
      const conversation = await waitFor(async () => {
        const r = (await (await fetch(`${urlA}/conversations/orders.example/${correlation}`)).json()) as { state: string; output?: unknown };
        return r.state === 'replied' ? r : undefined;
      }, { what: 'the conversation replied at A' });
      expect(conversation.output).toMatchObject({ state: 'replied', correlation, reply: { subject: 'Reply@Hello@Host', body: { text: 'hello orders.example, you said "hi"' } } });
      // Neither runtime saw the other's side: B has no conversation, A never held the request.
      expect((await fetch(`${urlB}/conversations/orders.example/${correlation}`)).status).toBe(404);
      expect((await fetch(`${urlA}/envelopes/orders.example/${correlation}`)).status).toBe(404);
    } finally {
      a.child.kill('SIGINT');
      b.child.kill('SIGINT');
    }
    expect(await a.exited).toBe(0);
    expect(await b.exited).toBe(0);
  }, 120_000);
});
