/**
 * The operator's CLI as a user runs it (`bin/mailroom.js`, a child process): readable output
 * and --json, closed pipes, confirmations, contexts, errors with hints, progress bars on a
 * terminal only, and `send --wait` on a dead-lettered request.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile, spawn, spawnSync } from 'node:child_process';
import { mkdtemp, readFile, stat, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { createServer as createHttpServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startNatsServer, type NatsServerHandle } from '../support/nats-server.ts';
import { makeDomain, makeFixture, type Fixture } from '../support/runtime-fixture.ts';
import { waitFor } from '../support/wait-for.ts';
import { freePort } from '../support/processes.ts';
import { startMailroom } from '../../src/mailroom/start-mailroom.ts';
import type { Mailroom } from '../../src/core/mailroom-types.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
const bin = join(root, 'bin/mailroom.js');
const vectors = fileURLToPath(new URL('../../../shared/vectors/pollyweb/', import.meta.url));
const hasScript = spawnSync('script', ['--version']).status === 0;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

let home: string;

/** The environment of every run: no contexts but the test's own, no token, no NATS from the shell. */
const baseEnv = (extra: Record<string, string | undefined> = {}) => {
  const env: Record<string, string | undefined> = { ...process.env, XDG_CONFIG_HOME: join(home, 'xdg'), HOME: home, MAILROOM_ADMIN_TOKEN: '', MAILROOM_CONTEXT: '', MAILROOM_CONFIG: '', NATS_URL: '', MAILROOM_NATS_URL: '', ...extra };
  for (const [key, value] of Object.entries(env)) if (value === undefined) delete env[key];
  return env as NodeJS.ProcessEnv;
};

function cli(args: string[], options: { input?: string; env?: Record<string, string | undefined>; cwd?: string } = {}): Promise<Run> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [bin, ...args], { cwd: options.cwd ?? root, timeout: 60_000, env: baseEnv(options.env) }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
    child.stdin?.end(options.input ?? '');
  });
}

/** Runs the CLI on a pseudo-terminal (util-linux `script`), typing `typed` into it. */
function onTerminal(args: string[], typed: string): Promise<Run> {
  const command = [process.execPath, bin, ...args].map((a) => `'${a.replace(/'/g, "'\\''")}'`).join(' ');
  return new Promise((resolve) => {
    const child = execFile('script', ['-qec', command, '/dev/null'], { cwd: root, timeout: 60_000, env: baseEnv() }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
    child.stdin?.end(typed);
  });
}

beforeAll(async () => {
  home = await mkdtemp(join(tmpdir(), 'mailroom-operator-cli-'));
});

describe('output', () => {
  it('does not crash when the reader closes the pipe (mailroom … | head -1)', async () => {
    for (const args of [['machines', 'list'], ['dlq', '--help'], ['context', 'ls']]) {
      const child = spawn(process.execPath, [bin, ...args], { cwd: root, env: baseEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
      child.stdout.destroy(); // the reader is gone before the first line
      let stderr = '';
      child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      const code = await new Promise<number | null>((resolve) => child.once('close', (c) => resolve(c)));
      expect({ args, code, stderr }).toEqual({ args, code: 0, stderr: '' });
    }
  }, 60_000);

  it('every command has --json and --help; client commands hide the runtime-only options', async () => {
    const commands = [
      ['keys', 'generate'], ['sign'], ['verify'], ['start'], ['send'], ['status'],
      ['dlq', 'list'], ['dlq', 'show'], ['dlq', 'replay'], ['dlq', 'purge'], ['dlq', 'export'],
      ['machines', 'list'], ['machines', 'export'],
      ['workflows', 'list'], ['workflows', 'show'], ['workflows', 'start'], ['workflows', 'send'], ['workflows', 'cancel'], ['workflows', 'resume'],
      ['context', 'add'], ['context', 'ls'], ['context', 'use'], ['context', 'rm'], ['context', 'show'],
    ];
    for (const command of commands) {
      const help = await cli([...command, '--help']);
      expect({ command, code: help.code }).toEqual({ command, code: 0 });
      expect({ command, json: help.stdout.includes('--json') }).toEqual({ command, json: true });
      const client = command[0] === 'dlq' || command[0] === 'workflows' || command[0] === 'status' || command[0] === 'send';
      if (client) expect({ command, runtimeOnly: /--nats|--port/.test(help.stdout) }).toEqual({ command, runtimeOnly: false });
    }
    expect((await cli(['start', '--help'])).stdout).toMatch(/--nats <url>[\s\S]*--port <port>/);
  }, 120_000);
});

describe('errors with hints', () => {
  it('prints a config problem once', async () => {
    const config = join(home, 'bad.yaml');
    await writeFile(config, 'http: { port: nope }\n');
    const run = await cli(['status', 'a.example', 'c-1', '-c', config]);
    expect(run.code).toBe(2);
    expect(run.stderr.match(/http\.port: expected a number/g)).toHaveLength(1);
  });

  it('a missing key file says so (not "not a PEM"); empty stdin for verify is a usage error', async () => {
    const envelope = join(vectors, 'valid/v01-basic-domain.json');
    const missing = await cli(['verify', '--key', join(home, 'nope.pem'), envelope]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain(`cannot read key file ${join(home, 'nope.pem')}`);
    expect(missing.stderr).not.toContain('not a PEM');
    const unreadable = await cli(['verify', '--key', home, envelope]);
    expect(unreadable.code).toBe(2);
    expect(unreadable.stderr).toContain(`cannot read key file ${home} (EISDIR)`);
    const empty = await cli(['verify', '--key', join(vectors, 'keys/A/public.pem')], { input: '' });
    expect(empty.code).toBe(2);
    expect(empty.stderr).toContain('error: no envelope: standard input was empty');
    expect(empty.stdout).not.toContain('reason:');
  });

  it('--dns-server does not swallow the file argument, and may be repeated', async () => {
    const run = await cli(['verify', '--dns', '--dns-server', '127.0.0.1:9', join(home, 'missing-envelope.json')]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(`cannot read envelope file ${join(home, 'missing-envelope.json')}`);
    const twice = await cli(['verify', '--dns', '--dns-server', '127.0.0.1:9', '--dns-server', '127.0.0.1:10', join(home, 'missing-envelope.json')]);
    expect(twice.stderr).toContain('cannot read envelope file');
  });

  it('a handler module that fails to load shows the cause; a port in use says so with a hint (worker and inline ingress)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mailroom-start-errors-'));
    const shop = await makeDomain(dir, 'shop.example');
    await writeFile(join(dir, 'broken.mjs'), 'export default {};\nthrow new Error("the database URL is not set");\n');
    const broken = join(dir, 'broken.yaml');
    await writeFile(broken, [`http: { port: ${await freePort()} }`, 'domains:', `  - { name: shop.example, selector: pw1, privateKey: ${shop.privateKeyPath}, handlers: ./broken.mjs }`].join('\n'));
    const failed = await cli(['start', '-c', broken, '--quiet'], { cwd: dir });
    expect(failed.code).not.toBe(0);
    expect(failed.stderr).toContain(`cannot load the handlers module ${join(dir, 'broken.mjs')}`);
    expect(failed.stderr).toContain('cause: the database URL is not set');
    expect(failed.stderr).toContain('broken.mjs:2');

    const holder: Server = createServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    const port = (holder.address() as { port: number }).port;
    try {
      const busy = join(dir, 'busy.yaml');
      await writeFile(busy, [`http: { host: 127.0.0.1, port: ${port} }`, 'domains:', `  - { name: shop.example, selector: pw1, privateKey: ${shop.privateKeyPath} }`].join('\n'));
      for (const ingress of ['worker', 'inline']) {
        const run = await cli(['start', '-c', busy, '--quiet', '--ingress', ingress], { cwd: dir });
        expect({ ingress, code: run.code === 0 }).toEqual({ ingress, code: false });
        expect(run.stderr).toContain(`127.0.0.1:${port}`);
        expect(run.stderr).toMatch(/already in use/);
        expect(run.stderr).toContain('hint: another process listens there');
        expect(run.stderr).not.toMatch(/^\s+at /m);
      }
    } finally {
      await new Promise((resolve) => holder.close(resolve));
    }
  }, 120_000);
});

describe('contexts', () => {
  it('add, ls, use, show, rm: saved 0600 under $XDG_CONFIG_HOME/mailroom, token masked; rm asks', async () => {
    expect((await cli(['context', 'ls'])).stdout).toContain('no contexts');
    const added = await cli(['context', 'add', 'prod', '--url', 'https://admin.orders.example/', '--token', 'secret-token-0123456789']);
    expect(added.code).toBe(0);
    const file = join(home, 'xdg', 'mailroom', 'contexts.json');
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect((await stat(join(home, 'xdg', 'mailroom'))).mode & 0o777).toBe(0o700);
    expect(JSON.parse(await readFile(file, 'utf8'))).toEqual({ current: 'prod', contexts: { prod: { url: 'https://admin.orders.example', token: 'secret-token-0123456789' } } });
    expect((await cli(['context', 'add', 'local', '--url', 'http://127.0.0.1:8080'])).code).toBe(0);
    const again = await cli(['context', 'add', 'local', '--url', 'http://127.0.0.1:9090']);
    expect(again.code).toBe(2);
    expect(again.stderr).toContain('--force');

    const listed = await cli(['context', 'ls']);
    expect(listed.stdout).toMatch(/^\* prod +https:\/\/admin\.orders\.example$/m);
    expect(listed.stdout).toMatch(/^ {2}local +http:\/\/127\.0\.0\.1:8080$/m);
    expect(listed.stdout).not.toContain('secret-token');
    expect((await cli(['context', 'use', 'local'])).code).toBe(0);
    const shown = JSON.parse((await cli(['context', 'show', 'prod', '--json'])).stdout) as { token: string; current: boolean };
    expect(shown).toMatchObject({ current: false, token: 'secr… (23 characters)' });

    const refused = await cli(['context', 'rm', 'prod']);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('refusing to remove context prod without confirmation');
    expect(refused.stderr).toContain('-f (--force)');
    expect((await cli(['context', 'rm', 'prod', '-f'])).code).toBe(0);
    expect(JSON.parse((await cli(['context', 'ls', '--json'])).stdout)).toMatchObject({ current: 'local', contexts: [{ name: 'local' }] });
    expect((await cli(['context', 'rm', 'local', '--force'])).code).toBe(0);
  });

  it('falls back to ~/.config/mailroom without XDG_CONFIG_HOME', async () => {
    const other = await mkdtemp(join(tmpdir(), 'mailroom-home-'));
    expect((await cli(['context', 'add', 'x', '--url', 'http://127.0.0.1:1'], { env: { XDG_CONFIG_HOME: undefined, HOME: other } })).code).toBe(0);
    expect((await stat(join(other, '.config', 'mailroom', 'contexts.json'))).mode & 0o777).toBe(0o600);
  });

  it.skipIf(!hasScript)('asks on a terminal: no keeps it, yes removes it', async () => {
    await cli(['context', 'add', 'tty', '--url', 'http://127.0.0.1:1']);
    const no = await onTerminal(['context', 'rm', 'tty'], 'n\r');
    expect(no.stdout).toContain('Forget context tty');
    expect(no.code).toBe(1);
    expect(no.stdout).toContain('not confirmed');
    expect((await cli(['context', 'ls'])).stdout).toContain('tty');
    const yes = await onTerminal(['context', 'rm', 'tty'], 'y\r');
    expect(yes.code).toBe(0);
    expect((await cli(['context', 'ls'])).stdout).not.toContain('tty');
  }, 60_000);
});

describe('against a running runtime', () => {
  let server: NatsServerHandle;
  let fixture: Fixture;
  let mailroom: Mailroom;
  let url: string;
  let config: string;
  let fixed = false;

  beforeAll(async () => {
    server = await startNatsServer();
    fixture = await makeFixture({
      natsUrl: server.url,
      local: ['orders.example', 'shop.example'],
      extra: { http: { port: 0, sendAs: ['orders.example'] }, delivery: { maxAttempts: 2, retry: { initialDelay: 50, maxDelay: 100, multiplier: 2 } } },
    });
    mailroom = await startMailroom(fixture.config, {
      handlers: {
        'shop.example': {
          'Echo@Shop': ({ body }) => ({ echo: body }),
          'Fail@Shop': () => {
            if (!fixed) throw new Error('the stock service is down');
            return { ok: true };
          },
        },
      },
      onError: () => undefined,
    });
    url = mailroom.url!;
    config = join(fixture.dir, 'mailroom.yaml');
    await writeFile(
      config,
      [
        `nats: { url: "${server.url}", prefix: ${fixture.prefix} }`,
        `http: { port: ${new URL(url).port}, sendAs: [orders.example] }`,
        'domains:',
        ...['orders.example', 'shop.example'].map((name) => `  - { name: ${name}, selector: pw1, privateKey: ${fixture.domains[name]!.privateKeyPath} }`),
      ].join('\n'),
    );
  }, 60_000);
  afterAll(async () => {
    await mailroom?.stop();
    await server?.stop();
  });

  it('send --wait says a request was dead-lettered (not timedOut), before the timeout', async () => {
    const run = await cli(['send', '-c', config, '--from', 'orders.example', '--to', 'shop.example', '--subject', 'Fail@Shop', '--wait', '--timeout', '120']);
    expect(run.code).toBe(1);
    expect(run.stdout).toContain('request dead-lettered:');
    expect(run.stdout).toContain('the stock service is down');
    expect(run.stdout).not.toContain('timedOut');
    const json = JSON.parse((await cli(['send', '-c', config, '--from', 'orders.example', '--to', 'shop.example', '--subject', 'Fail@Shop', '--wait', '--timeout', '120', '--json'])).stdout) as { outcome: string; request: { deadLetter: unknown } };
    expect(json.outcome).toBe('deadLettered');
    expect(json.request.deadLetter).toBeTruthy();
  }, 120_000);

  it('dlq list/show and status read as lines by default and as JSON with --json; a context replaces -c', async () => {
    await waitFor(async () => (await mailroom.deadLetters.list()).length >= 2, { what: 'two dead letters', timeoutMs: 30_000 });
    expect((await cli(['context', 'add', 'here', '--url', url, '--use', '--force'])).code).toBe(0);
    const list = await cli(['dlq', 'list']);
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(/^ +\d+ {2}\S+ {2}\S+ +\S+ +orders\.example → shop\.example Fail@Shop /m);
    const letters = JSON.parse((await cli(['dlq', 'list', '--json'])).stdout) as { deadLetters: { id: number; envelope: { correlation: string } }[] };
    const first = letters.deadLetters[0]!;
    const shown = await cli(['dlq', 'show', String(first.id)]);
    expect(shown.stdout).toMatch(new RegExp(`^dead letter: +${first.id}$`, 'm'));
    expect(shown.stdout).toMatch(/detail: +.*the stock service is down/);
    expect(shown.stdout).toContain(`replay it: mailroom dlq replay ${first.id}`);
    expect(JSON.parse((await cli(['dlq', 'show', String(first.id), '--json'])).stdout)).toMatchObject({ id: first.id, envelopeText: expect.stringContaining('Fail@Shop') });

    const status = await cli(['status', 'orders.example', first.envelope.correlation]);
    expect(status.stdout).toMatch(/^state: +deadLettered \(final\)$/m);
    expect(status.stdout).toContain('history:');
    expect(JSON.parse((await cli(['status', 'orders.example', first.envelope.correlation, '--json'])).stdout)).toMatchObject({ state: 'deadLettered' });
    const missing = await cli(['status', 'orders.example', 'no-such-correlation']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('error: the runtime answered 404');
  }, 60_000);

  it('destructive commands refuse without a terminal and without --force; export writes JSON lines; bulk replay with --force', async () => {
    const purgeAll = await cli(['dlq', 'purge', '--all', '--url', url]);
    expect(purgeAll.code).toBe(2);
    expect(purgeAll.stderr).toContain('refusing to purge every dead letter without confirmation');
    const replayAll = await cli(['dlq', 'replay', '--all', '--url', url]);
    expect(replayAll.code).toBe(2);
    expect(replayAll.stderr).toContain('without confirmation');
    const before = await mailroom.deadLetters.list();
    expect(before.length).toBeGreaterThanOrEqual(2);

    const out = join(home, 'dead.jsonl');
    const exported = await cli(['dlq', 'export', '--out', out, '--url', url]);
    expect(exported.code).toBe(0);
    expect(exported.stderr).toContain(`exported ${before.length} dead letters`);
    expect(exported.stderr).not.toMatch(/exporting \[/); // no bar when standard error is not a terminal
    const lines = (await readFile(out, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { id: number; envelopeText: string });
    expect(lines.map((l) => l.id).sort()).toEqual(before.map((l) => l.id).sort());

    fixed = true;
    const replayed = await cli(['dlq', 'replay', '--all', '--force', '--url', url]);
    expect(replayed.code).toBe(0);
    expect(replayed.stdout.match(/^replayed \d+: a fresh attempt/gm)).toHaveLength(before.length);
    expect(replayed.stdout).not.toMatch(/mailroom\.(inbox|outbox)\./); // no internal NATS subject in the text
    expect(replayed.stderr).not.toMatch(/replaying \[/);
    for (const letter of before) {
      await waitFor(async () => (await mailroom.status('orders.example', letter.envelope.correlation!))?.state === 'replied', { what: `replayed ${letter.id} replied`, timeoutMs: 30_000 });
    }
    expect(await mailroom.deadLetters.list()).toEqual([]);
  }, 90_000);

  it.skipIf(!hasScript)('on a terminal: purge asks, and bulk operations show a progress bar', async () => {
    fixed = false;
    const sent = await cli(['send', '-c', config, '--from', 'orders.example', '--to', 'shop.example', '--subject', 'Fail@Shop', '--wait', '--json']);
    expect(JSON.parse(sent.stdout)).toMatchObject({ outcome: 'deadLettered' });
    await cli(['send', '-c', config, '--from', 'orders.example', '--to', 'shop.example', '--subject', 'Fail@Shop', '--wait', '--json']);
    const ids = (await mailroom.deadLetters.list()).map((l) => String(l.id));
    expect(ids).toHaveLength(2);
    const declined = await onTerminal(['dlq', 'purge', ...ids, '--url', url], 'n\r');
    expect(declined.stdout).toContain(`Delete dead letters ${[...ids].join(', ')}?`);
    expect(declined.code).toBe(1);
    expect(await mailroom.deadLetters.list()).toHaveLength(2);
    const exported = await onTerminal(['dlq', 'export', '--out', join(home, 'tty.jsonl'), '--url', url], '');
    expect(exported.stdout).toMatch(/exporting \[.*\] 2\/2/);
    const purged = await onTerminal(['dlq', 'purge', ...ids, '--url', url], 'y\r');
    expect(purged.code).toBe(0);
    expect(purged.stdout).toMatch(/purging \[.*\] 2\/2/);
    expect(await mailroom.deadLetters.list()).toEqual([]);
  }, 120_000);
});

describe('send --wait keeps number tokens', () => {
  it('sends the body and prints the reply with every number as written', async () => {
    let posted = '';
    const fake = createHttpServer((req, res) => {
      let text = '';
      req.on('data', (c: Buffer) => (text += c.toString()));
      req.on('end', () => {
        const base = `http://127.0.0.1:${(fake.address() as { port: number }).port}`;
        res.setHeader('content-type', 'application/json');
        if (req.method === 'POST' && req.url === '/conversations') {
          posted = text;
          res.statusCode = 202;
          return res.end(JSON.stringify({ correlation: 'c-1', status: `${base}/conversations/orders.example/c-1` }));
        }
        if (req.url === '/conversations/orders.example/c-1') {
          return res.end('{"state":"replied","status":"done","output":{"state":"replied","reply":{"subject":"Echo@Shop","body":{"big":12345678901234567890,"price":1.0,"tiny":1e-400}}}}');
        }
        if (req.url === '/envelopes/orders.example/c-1') return res.end('{"state":"replied","final":true,"history":[{"state":"received","at":"x"},{"state":"replied","at":"y"}]}');
        res.statusCode = 404;
        res.end('{}');
      });
    });
    await new Promise<void>((resolve) => fake.listen(0, '127.0.0.1', resolve));
    try {
      const config = join(home, 'fake.yaml');
      const orders = await makeDomain(home, 'orders.example');
      await writeFile(config, [`http: { host: 127.0.0.1, port: ${(fake.address() as { port: number }).port}, sendAs: [orders.example] }`, 'domains:', `  - { name: orders.example, selector: pw1, privateKey: ${orders.privateKeyPath} }`].join('\n'));
      const args = ['send', '-c', config, '--from', 'orders.example', '--to', 'shop.example', '--subject', 'Echo@Shop', '--body', '{"big":98765432109876543210,"price":2.50}', '--wait'];
      const lines = await cli(args);
      expect(lines.code).toBe(0);
      expect(posted).toContain('"body":{"big":98765432109876543210,"price":2.50}');
      expect(lines.stdout).toContain('reply: Echo@Shop {"big":12345678901234567890,"price":1.0,"tiny":1e-400}');
      // A context is enough for --wait (the runtime signs): no config file.
      await cli(['context', 'add', 'fake', '--url', `http://127.0.0.1:${(fake.address() as { port: number }).port}`, '--force']);
      const viaContext = await cli(['send', '--context', 'fake', '--from', 'orders.example', '--to', 'shop.example', '--subject', 'Echo@Shop', '--wait']);
      expect(viaContext.code).toBe(0);
      expect(viaContext.stdout).toContain('conversation: replied');
      const json = await cli([...args, '--json']);
      expect(json.stdout).toMatch(/"reply": \{\s+"big": 12345678901234567890,\s+"price": 1\.0,/);
    } finally {
      await new Promise((resolve) => fake.close(resolve));
    }
  }, 60_000);
});
