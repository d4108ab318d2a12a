/**
 * The CLI against a runtime with admin tokens: `--token`, `MAILROOM_ADMIN_TOKEN`, the config's
 * own `http.adminTokens`, and a clear message with exit code 1 on a 401.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startNatsServer, type NatsServerHandle } from '../support/nats-server.ts';
import { makeFixture, type Fixture } from '../support/runtime-fixture.ts';
import { startMailroom } from '../../src/mailroom/start-mailroom.ts';
import type { Mailroom } from '../../src/core/mailroom-types.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
const bin = join(root, 'bin/mailroom.js');
const TOKEN = 'cli-test-token-0123456789';

function cli(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  const clean = { ...process.env, MAILROOM_ADMIN_TOKEN: '', NATS_URL: '', MAILROOM_NATS_URL: '', ...env };
  return new Promise((resolve) => {
    execFile(process.execPath, [bin, ...args], { cwd: root, timeout: 30_000, env: clean }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
  });
}

let server: NatsServerHandle;
let fixture: Fixture;
let mailroom: Mailroom;
let url: string;
beforeAll(async () => {
  server = await startNatsServer();
  fixture = await makeFixture({ natsUrl: server.url, local: ['orders.example', 'shop.example'], extra: { http: { port: 0, adminTokens: [TOKEN], sendAs: ['orders.example'] } } });
  mailroom = await startMailroom(fixture.config, { handlers: { 'shop.example': { 'Hello@Host': ({ body }) => ({ echo: body }) } }, onError: () => undefined });
  url = mailroom.url!;
});
afterAll(async () => {
  await mailroom?.stop();
  await server?.stop();
});

describe('the CLI with an admin token', () => {
  it('without a token: a clear message and exit code 1', async () => {
    const result = await cli(['dlq', 'list', '--url', url]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('the runtime wants an admin token: --token or MAILROOM_ADMIN_TOKEN');
  });

  it('with --token or MAILROOM_ADMIN_TOKEN (the first of a comma-separated list)', async () => {
    expect((await cli(['dlq', 'list', '--url', url, '--token', TOKEN])).stdout).toContain('no dead letters');
    const fromEnv = await cli(['workflows', 'list', '--url', url], { MAILROOM_ADMIN_TOKEN: `${TOKEN},another-token-0123456789` });
    expect(fromEnv.code).toBe(0);
    expect(fromEnv.stdout).toContain('no workflows');
    const wrong = await cli(['status', 'orders.example', 'c-1', '--url', url, '--token', 'wrong-token-0123456789']);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain('the runtime wants an admin token');
  });

  it('send --wait signs through the runtime with the config\'s own token; status reads it', async () => {
    const config = join(fixture.dir, 'mailroom.yaml');
    const port = new URL(url).port;
    await writeFile(
      config,
      [
        `nats: { url: "${server.url}", prefix: ${fixture.prefix} }`,
        `http: { port: ${port}, adminTokens: [${TOKEN}], sendAs: [orders.example] }`,
        'domains:',
        ...['orders.example', 'shop.example'].map((name) => `  - { name: ${name}, selector: pw1, privateKey: ${fixture.domains[name]!.privateKeyPath} }`),
      ].join('\n'),
    );
    const sent = await cli(['send', '-c', config, '--from', 'orders.example', '--to', 'shop.example', '--subject', 'Hello@Host', '--body', '{"x":1}', '--wait']);
    expect(sent.stdout).toContain('conversation: replied');
    expect(sent.code).toBe(0);
    const correlation = /"correlation":"([^"]+)"/.exec(sent.stdout)?.[1];
    const status = await cli(['status', 'orders.example', correlation!, '-c', config, '--json']);
    expect(status.code).toBe(0);
    expect(JSON.parse(status.stdout)).toMatchObject({ correlation, from: 'orders.example' });
    const refused = await cli(['send', '-c', config, '--from', 'orders.example', '--to', 'shop.example', '--subject', 'Hello@Host', '--wait', '--token', 'wrong-token-0123456789']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('the runtime wants an admin token');
  });
});
