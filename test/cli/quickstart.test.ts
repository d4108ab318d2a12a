/**
 * The quick start as the README walks through it: `mailroom start -c examples/quickstart/mailroom.yaml`
 * (what `npm start` runs, here on a free port), a dead letter that is replayed once the
 * warehouse is "online", the `greeting` workflow, a 415 for text/plain, and what the README
 * creates in the checkout is git-ignored.
 */
import { describe, expect, it } from 'vitest';
import { execFile, spawn } from 'node:child_process';
import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { waitFor } from '../support/wait-for.ts';
import { freePort } from '../support/processes.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
const bin = join(root, 'bin/mailroom.js');

/**
 * A copy of examples/quickstart beside it (so its `../../src` imports hold), with its own
 * JetStream store and warehouse flag: the test never touches a user's quick start (its store,
 * its flag, a running `npm start`).
 */
async function quickstartCopy(): Promise<string> {
  const dir = await mkdtemp(join(root, 'examples', '.quickstart-test-'));
  const source = join(root, 'examples', 'quickstart');
  await cp(source, dir, { recursive: true, filter: (path) => !path.startsWith(join(source, '.mailroom')) && !path.endsWith('warehouse.online') });
  return dir;
}

function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [bin, ...args], { cwd: root, timeout: 60_000, env: { ...process.env, NATS_URL: '', MAILROOM_NATS_URL: '', MAILROOM_CONTEXT: '', MAILROOM_ADMIN_TOKEN: '' } }, (error, stdout, stderr) =>
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr }),
    );
  });
}

describe('the quick start', () => {
  it('hosts the greeting workflow and shows a dead letter that a replay finishes; text/plain is a 415', async () => {
    const dir = await quickstartCopy();
    const config = join(dir, 'mailroom.yaml');
    const flag = join(dir, 'warehouse.online');
    const port = await freePort();
    const at = ['-c', config, '--port', String(port)];
    const child = spawn(process.execPath, [bin, 'start', ...at, '--log-format', 'json'], { cwd: root, detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NATS_URL: '', MAILROOM_NATS_URL: '' } });
    let out = '';
    child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr!.on('data', (c: Buffer) => (out += c.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    try {
      await waitFor(() => out.includes('ready; Ctrl-C to stop') || child.exitCode !== null, { what: 'the quick start to be ready', timeoutMs: 60_000 });
      expect(out).toContain('ready; Ctrl-C to stop');
      expect(out).toContain('workflow:  greeting');

      const dead = await cli(['send', ...at, '--from', 'orders.example', '--to', 'shop.example', '--subject', 'Reserve@Shop', '--body', '{"item":"book"}', '--wait', '--json']);
      expect(dead.code).toBe(1);
      const outcome = JSON.parse(dead.stdout) as { outcome: string; correlation: string };
      expect(outcome.outcome).toBe('deadLettered');
      const letters = JSON.parse((await cli(['dlq', 'list', ...at, '--json'])).stdout) as { deadLetters: { id: number; envelope: { correlation?: string } }[] };
      const letter = letters.deadLetters.find((l) => l.envelope.correlation === outcome.correlation)!;
      expect(letter).toBeDefined();

      await writeFile(flag, '');
      expect((await cli(['dlq', 'replay', String(letter.id), ...at])).stdout).toMatch(new RegExp(`^replayed ${letter.id}: a fresh attempt`));
      await waitFor(async () => JSON.parse((await cli(['status', 'orders.example', outcome.correlation, ...at, '--json'])).stdout).state === 'replied', { what: 'the replayed reservation replied', timeoutMs: 30_000 });

      expect((await cli(['workflows', 'start', 'greeting', '--input', '{"name":"Ada"}', ...at, '--json'])).code).toBe(0);
      const id = JSON.parse((await cli(['workflows', 'list', ...at, '--name', 'greeting', '--json'])).stdout).workflows[0].id as string;
      await waitFor(async () => JSON.parse((await cli(['workflows', 'show', id, ...at, '--json'])).stdout).state === 'waitingForApproval', { what: 'the greeting waiting', timeoutMs: 30_000 });
      const shown = JSON.parse((await cli(['workflows', 'show', id, ...at, '--json'])).stdout) as { context: { reply: { text: string } } };
      expect(shown.context.reply.text).toContain('you said "Ada"');
      expect(JSON.parse((await cli(['workflows', 'send', id, 'approve', ...at, '--json'])).stdout)).toMatchObject({ status: 'done', state: 'approved' });

      const plain = await fetch(`http://127.0.0.1:${port}/inbox`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'hello' });
      expect(plain.status).toBe(415);
      expect(((await plain.json()) as { error: string }).error).toBe('unsupported-media-type');
    } finally {
      process.kill(-child.pid!, 'SIGINT');
      expect(await exited).toBe(0);
      await rm(dir, { recursive: true, force: true });
    }
  }, 180_000);

  it('git-ignores what the README creates: keys/, envelope.json, the warehouse flag', async () => {
    const { stdout } = await promisify(execFile)('git', ['check-ignore', 'keys/orders.example.pw1.private.pem', 'envelope.json', 'examples/quickstart/warehouse.online', 'examples/quickstart/.mailroom/nats/x'], { cwd: root });
    expect(stdout.trim().split('\n')).toHaveLength(4);
    await expect(promisify(execFile)('git', ['check-ignore', 'examples/quickstart/keys/shop.example.pw1.private.pem'], { cwd: root })).rejects.toThrow();
  });
});
