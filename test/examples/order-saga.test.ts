/**
 * The order saga example runs as a user runs it (a child process, on this file's nats-server
 * through NATS_URL): the paid order ships, the declined one releases its stock, the one whose
 * payment provider never answers is refunded and releases its stock; the stored workflows say
 * so too. With --serve it keeps running, and its workflows are on HTTP and in the inspector.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createWebSocketReceiver, type StatelyInspectionEvent } from '@statelyai/inspect';
import { startNatsServer, type NatsServerHandle } from '../support/nats-server.ts';
import { waitFor } from '../support/wait-for.ts';
import { loadConfig } from '../../src/config/index.ts';
import { startMailroom } from '../../src/mailroom/start-mailroom.ts';
import type { Mailroom } from '../../src/core/mailroom-types.ts';
import type { WorkflowInfo } from '../../src/workflows/workflow-types.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
const SCRIPT = 'examples/order-saga/run.ts';

let server: NatsServerHandle;
beforeAll(async () => {
  server = await startNatsServer();
});
afterAll(async () => {
  await server?.stop();
});

const env = () => ({ ...process.env, NATS_URL: server.url, MAILROOM_NATS_URL: '' });

function run(args: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) =>
    execFile(process.execPath, ['--import', 'tsx/esm', SCRIPT, ...args], { cwd: root, timeout: 90_000, env: env() }, (error, stdout, stderr) =>
      resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    ),
  );
}

/** The three order IDs a run printed (A, B, C). */
const orderIds = (stdout: string) => [...stdout.matchAll(/^placed order (\S+)/gm)].map((m) => m[1]!).sort();

describe('examples/order-saga', () => {
  it('ships the paid order, and compensates the declined and the timed-out ones', async () => {
    const { code, stdout, stderr } = await run([]);
    expect(code, `stdout:\n${stdout}\nstderr:\n${stderr}`).toBe(0);
    expect(stdout).toContain('path:  reserving → charging → shipping → shipped');
    expect(stdout).toContain('path:  reserving → charging → releasingStock → cancelled');
    expect(stdout).toContain('path:  reserving → charging → refunding → releasingStock → cancelled');
    expect(stdout).toContain('all orders reached the expected end states');
    expect(stdout).not.toContain('✗');

    // What the run stored: read back by a runtime of our own on the same NATS.
    const ids = orderIds(stdout);
    expect(ids).toHaveLength(3);
    const config = await loadConfig(fileURLToPath(new URL('../../examples/order-saga/mailroom.yaml', import.meta.url)), { env: { NATS_URL: server.url } });
    const reader: Mailroom = await startMailroom(config, { http: false, outboxWorker: false });
    try {
      const [a, b, c] = (await Promise.all(ids.map((id) => reader.workflows.get(id)))) as WorkflowInfo[];
      expect(a).toMatchObject({ status: 'done', state: 'shipped', context: { failure: null, refundId: null }, output: { trackingNumber: expect.stringMatching(/^TRK-/) } });
      expect(b).toMatchObject({ status: 'done', state: 'cancelled', context: { chargeId: null, refundId: null, failure: { step: 'payment', reason: 'card declined (insufficient funds)' } } });
      expect(c).toMatchObject({ status: 'done', state: 'cancelled', context: { refundId: expect.stringMatching(/^re_/), failure: { step: 'payment', reason: expect.stringContaining('did not answer within 3000 ms') } } });
      expect(b!.history.map((h) => h.event)).toEqual(['xstate.init', 'xstate.done.actor.reserveStock', 'xstate.error.actor.charge', 'xstate.done.actor.releaseStock']);
      expect(c!.history.map((h) => h.event)).toEqual(['xstate.init', 'xstate.done.actor.reserveStock', 'xstate.after.paymentTimeout.order.charging', 'xstate.done.actor.refund', 'xstate.done.actor.releaseStock']);
      for (const info of [a, b, c]) expect(info).toMatchObject({ activities: [], timers: [] });
    } finally {
      await reader.stop();
    }
  }, 120_000);

  it('explains itself with --help, and refuses an unknown flag', async () => {
    const help = await run(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Usage: npx tsx examples/order-saga/run.ts');
    expect(help.stdout).toContain('--serve');
    const bad = await run(['--nope']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--nope');
  }, 60_000);

  it('with --serve keeps running: the orders on GET /workflows and in the inspector, until Ctrl-C', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx/esm', SCRIPT, '--serve', '--port', '0', '--inspect-port', '0', '--payment-timeout', '1000'], { cwd: root, env: env(), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      await waitFor(() => stdout.includes('serving;'), { timeoutMs: 60_000, what: `the example to serve; so far:\n${stdout}` });
      expect(stdout).toContain('all orders reached the expected end states');
      const url = /dashboard: {2}(http:\/\/\S+?)\/ /.exec(stdout)?.[1];
      const ws = /WebSocket (ws:\/\/\S+)/.exec(stdout)?.[1];
      expect(url).toBeDefined();
      expect(ws).toBeDefined();
      const ids = orderIds(stdout);

      const list = (await (await fetch(`${url}/workflows?name=order`)).json()) as { workflows: { id: string; state: unknown; status: string }[] };
      const mine = list.workflows.filter((w) => ids.includes(w.id)).sort((x, y) => x.id.localeCompare(y.id));
      expect(mine.map((w) => [w.state, w.status])).toEqual([
        ['shipped', 'done'],
        ['cancelled', 'done'],
        ['cancelled', 'done'],
      ]);
      const c = (await (await fetch(`${url}/workflows/${encodeURIComponent(ids[2]!)}`)).json()) as WorkflowInfo;
      expect(c.history.map((h) => h.state)).toEqual(['reserving', 'charging', 'refunding', 'releasingStock', 'cancelled']);
      expect(await (await fetch(`${url}/`)).text()).toContain('id="workflows-panel"');

      // A client that connects now gets the orders, with the saga's definition and their end states.
      const received: StatelyInspectionEvent[] = [];
      createWebSocketReceiver({ server: ws! }).subscribe((e) => received.push(e));
      const registrations = await waitFor(
        () => {
          const found = received.filter((e): e is Extract<StatelyInspectionEvent, { type: '@xstate.actor' }> => e.type === '@xstate.actor' && ids.some((id) => e.sessionId === `workflow:${id}`));
          return found.length === 3 ? found : undefined;
        },
        { what: 'the orders in the inspector' },
      );
      for (const registration of registrations) expect(JSON.parse(registration.definition!)).toMatchObject({ id: 'order', initial: 'reserving' });
      expect(registrations.map((r) => (r.snapshot as { value: unknown }).value).sort()).toEqual(['cancelled', 'cancelled', 'shipped']);
    } finally {
      child.kill('SIGINT');
    }
    expect(await exited).toBe(0);
  }, 120_000);
});
