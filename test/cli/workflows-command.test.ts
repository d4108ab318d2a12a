/**
 * `mailroom workflows …` against a running runtime, and the HTTP routes under it:
 * `POST /workflows` (start), `POST /workflows/{id}/events|cancel|resume`, `GET /workflows[/{id}]`.
 * The CLI runs as a user runs it (`bin/mailroom.js`, a child process).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { assign, setup } from 'xstate';
import { startNatsServer, type NatsServerHandle } from '../support/nats-server.ts';
import { makeFixture } from '../support/runtime-fixture.ts';
import { startMailroom } from '../../src/mailroom/start-mailroom.ts';
import type { Mailroom } from '../../src/core/mailroom-types.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
const bin = join(root, 'bin/mailroom.js');

function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [bin, ...args], { cwd: root, timeout: 30_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
  });
}

const cart = setup({ types: { context: {} as { items: string[] } } }).createMachine({
  id: 'cart',
  context: ({ input }) => ({ items: ((input as { items?: string[] } | undefined)?.items ?? []) }),
  initial: 'open',
  states: {
    open: { on: { add: { actions: assign({ items: ({ context, event }) => [...context.items, (event as unknown as { item: string }).item] }) }, checkout: 'done' } },
    done: { type: 'final' },
  },
});

let server: NatsServerHandle;
let mailroom: Mailroom;
let url: string;
beforeAll(async () => {
  server = await startNatsServer();
  const f = await makeFixture({ natsUrl: server.url, local: ['shop.example'] });
  mailroom = await startMailroom(f.config, { workflows: [{ machine: cart }], outboxWorker: false, onError: () => undefined });
  url = mailroom.url!;
});
afterAll(async () => {
  await mailroom?.stop();
  await server?.stop();
});

describe('mailroom workflows', () => {
  it('starts, signals, lists, shows and cancels workflows', async () => {
    const started = await cli(['workflows', 'start', 'cart', '--input', '{"items":["tea"]}', '--id', 'shop/cart-1', '--url', url, '--json']);
    expect(started.code).toBe(0);
    expect(JSON.parse(started.stdout)).toMatchObject({ id: 'shop/cart-1', status: 'running', state: 'open', context: { items: ['tea'] } });

    const sent = await cli(['workflows', 'send', 'shop/cart-1', '{"type":"add","item":"cake"}', '--url', url, '--json']);
    expect(JSON.parse(sent.stdout)).toMatchObject({ seq: 2, context: { items: ['tea', 'cake'] } });
    expect(JSON.parse((await cli(['workflows', 'send', 'shop/cart-1', 'checkout', '--url', url, '--json'])).stdout)).toMatchObject({ status: 'done', state: 'done' });

    await cli(['workflows', 'start', 'cart', '--id', 'cart-2', '--url', url, '--json']);
    const list = await cli(['workflows', 'list', '--status', 'running', '--url', url]);
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(/^cart-2 {2}cart {2}running +open +step 1 /m);
    expect(list.stdout).not.toContain('shop/cart-1');

    const shown = JSON.parse((await cli(['workflows', 'show', 'shop/cart-1', '--url', url, '--json'])).stdout) as { history: { event: string }[] };
    expect(shown.history.map((h) => h.event)).toEqual(['xstate.init', 'add', 'checkout']);
    // Readable by default: one line per step, `seq  time  event → state`, no JSON.
    const readable = (await cli(['workflows', 'show', 'shop/cart-1', '--url', url])).stdout;
    expect(readable).toMatch(/^\s+1 {2}\d{4}-\d\d-\d\dT[\d:.]+Z {2}xstate\.init → \S+$/m);
    expect(readable).not.toContain('{"seq"');

    const cancelled = await cli(['workflows', 'cancel', 'cart-2', '--reason', 'abandoned', '--url', url, '--json', '--force']);
    expect(JSON.parse(cancelled.stdout)).toMatchObject({ status: 'cancelled', error: { message: 'abandoned' } });
  });

  it('exits 1 with the named error for an unknown kind, a taken id, an ended workflow, a missing one; 2 for bad JSON', async () => {
    const unknown = await cli(['workflows', 'start', 'nope', '--url', url, '--json']);
    expect(unknown.code).toBe(1);
    expect(JSON.parse(unknown.stdout)).toMatchObject({ error: 'bad-request', detail: expect.stringContaining('no workflow is registered as "nope"') });
    await cli(['workflows', 'start', 'cart', '--id', 'cart-3', '--url', url, '--json']);
    expect(JSON.parse((await cli(['workflows', 'start', 'cart', '--id', 'cart-3', '--url', url, '--json'])).stdout)).toMatchObject({ error: 'conflict' });
    await cli(['workflows', 'cancel', 'cart-3', '--url', url, '--json', '-f']);
    const ended = await cli(['workflows', 'send', 'cart-3', 'add', '--url', url, '--json']);
    expect(ended.code).toBe(1);
    expect(JSON.parse(ended.stdout)).toMatchObject({ error: 'conflict', detail: expect.stringContaining('is cancelled') });
    expect(JSON.parse((await cli(['workflows', 'resume', 'missing', '--url', url, '--json'])).stdout)).toMatchObject({ error: 'not-found' });
    const badJson = await cli(['workflows', 'send', 'cart-3', '{nope', '--url', url, '--json']);
    expect(badJson.code).toBe(2);
    expect(badJson.stderr).toMatch(/the event is not JSON/);
    const reserved = await fetch(`${url}/workflows/cart-3/events`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"type":"xstate.init"}' });
    expect(reserved.status).toBe(400);
    expect(((await reserved.json()) as { detail: string }).detail).toMatch(/reserved for XState/);
  });

  it('has --help for every workflows command', async () => {
    for (const sub of ['list', 'show', 'start', 'send', 'cancel', 'resume']) {
      const help = await cli(['workflows', sub, '--help']);
      expect(help.code).toBe(0);
      expect(help.stdout).toContain(`Usage: mailroom workflows ${sub}`);
    }
  });
});
