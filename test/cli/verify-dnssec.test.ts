/**
 * `mailroom verify --dns` requires DNSSEC by default, as the reference checks it (the AD
 * flag on the TXT answer and on the DS answer of `pw.{From}`); `--no-dnssec` opts out.
 * Against the in-repo DNS test server.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startDnsServer, type TestDnsServer } from '../support/dns-server.ts';
import { KEY_A } from '../keys/vectors.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
const bin = join(root, 'bin/mailroom.js');
const vector = fileURLToPath(new URL('../../../shared/vectors/pollyweb/valid/v01-basic-domain.json', import.meta.url));

function verify(server: TestDnsServer, extra: string[] = []): Promise<{ code: number; stdout: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [bin, 'verify', vector, '--dns', ...extra, '--dns-server', server.address], { cwd: root, timeout: 30_000 }, (error, stdout) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout });
    }).stdin?.end();
  });
}

describe('mailroom verify --dns and DNSSEC', () => {
  let server: TestDnsServer;
  beforeAll(async () => {
    server = await startDnsServer({
      'pw1._domainkey.pw.sender.example.com': [{ type: 'TXT', data: KEY_A.dkim }],
      'pw.sender.example.com': [{ type: 'DS', data: { keyTag: 4242, algorithm: 15, digestType: 2, digest: Buffer.alloc(32, 1) } }],
    });
  });
  afterAll(async () => {
    await server.stop();
  });
  beforeEach(() => server.reset());

  it('accepts the key when the TXT and the DS answers carry AD', async () => {
    server.behaviour.ad = true;
    expect(await verify(server)).toMatchObject({ code: 0, stdout: 'OK\n' });
    expect(server.queries.map((q) => `${q.type} ${q.name}`)).toEqual(['TXT pw1._domainkey.pw.sender.example.com', 'DS pw.sender.example.com']);
  }, 30_000);

  it('refuses it, naming the reason, when the DS answer lacks AD', async () => {
    server.behaviour.adFor = { TXT: true, DS: false };
    const run = await verify(server);
    expect(run.code).toBe(1);
    expect(run.stdout).toContain('reason: key-not-found');
    expect(run.stdout).toContain('code: ds-not-authenticated');
  }, 30_000);

  it('refuses an unauthenticated TXT answer by default (not-authenticated)', async () => {
    const run = await verify(server);
    expect(run.code).toBe(1);
    expect(run.stdout).toContain('code: not-authenticated');
  }, 30_000);

  it('--no-dnssec accepts the key without AD, and asks for no DS', async () => {
    expect(await verify(server, ['--no-dnssec'])).toMatchObject({ code: 0, stdout: 'OK\n' });
    expect(server.queries.map((q) => q.type)).toEqual(['TXT']);
  }, 30_000);
});
