/**
 * The CLI as a user runs it: the real `bin/mailroom.js` in a child process.
 */
import { describe, expect, it, beforeAll } from 'vitest';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, readdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));
const vectors = fileURLToPath(new URL('../../../shared/vectors/pollyweb/', import.meta.url));
const bin = join(root, 'bin/mailroom.js');

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function mailroom(args: string[], input?: string): Promise<Run> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [bin, ...args], { cwd: root, timeout: 30_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
    if (input !== undefined) child.stdin?.end(input);
    else child.stdin?.end();
  });
}

const verdicts: Record<string, { reason: string; field?: string }> = {
  'i01-tampered-body': { reason: 'hash-mismatch' },
  'i02-tampered-body-rehashed': { reason: 'bad-signature' },
  'i03-tampered-header-subject': { reason: 'hash-mismatch' },
  'i05-wrong-key': { reason: 'bad-signature' },
  'i06-missing-signature': { reason: 'malformed', field: 'Signature' },
  'i07-missing-hash': { reason: 'malformed', field: 'Hash' },
  'i08-unsupported-schema': { reason: 'unsupported-schema' },
  'i10-signature-unpadded': { reason: 'malformed', field: 'Signature' },
  'i13-hash-uppercase': { reason: 'hash-mismatch' },
  'i14-timestamp-offset': { reason: 'malformed', field: 'Header.Timestamp' },
  'i15-body-array': { reason: 'malformed', field: 'Body' },
};

describe('mailroom verify against the reference vectors', () => {
  const keyForms = ['keys/A/public.pem', 'keys/A/dkim.txt', 'keys/A/public.raw.b64'];

  it('accepts every valid vector with each form of key A', async () => {
    const files = (await readdir(join(vectors, 'valid'))).filter((f) => f.endsWith('.json'));
    expect(files.length).toBeGreaterThanOrEqual(8);
    for (const keyForm of keyForms) {
      for (const file of files) {
        const run = await mailroom(['verify', '--key', join(vectors, keyForm), join(vectors, 'valid', file)]);
        expect({ file, keyForm, ...run }).toMatchObject({ code: 0, stdout: 'OK\n' });
      }
    }
  }, 120_000);

  it('accepts a raw base64 key given inline, and reads standard input', async () => {
    const raw = (await readFile(join(vectors, 'keys/A/public.raw.b64'), 'utf8')).trim();
    const text = await readFile(join(vectors, 'valid/v01-basic-domain.json'), 'utf8');
    const run = await mailroom(['verify', '--key', raw], text);
    expect(run).toMatchObject({ code: 0, stdout: 'OK\n' });
  });

  it('rejects every invalid vector with its listed reason and exit code 1', async () => {
    const files = (await readdir(join(vectors, 'invalid'))).filter((f) => f.endsWith('.json'));
    expect(files.length).toBe(Object.keys(verdicts).length);
    for (const file of files) {
      const expected = verdicts[file.replace(/\.json$/, '')]!;
      const run = await mailroom(['verify', '--key', join(vectors, 'keys/A/public.pem'), join(vectors, 'invalid', file)]);
      expect({ file, code: run.code }).toEqual({ file, code: 1 });
      expect(run.stdout).toContain(`reason: ${expected.reason}\n`);
      if (expected.field) expect(run.stdout).toContain(`field: ${expected.field}\n`);
    }
  }, 120_000);

  it('--max-age rejects the vectors (dated 2025) as stale', async () => {
    const run = await mailroom(['verify', '--key', join(vectors, 'keys/A/public.pem'), '--max-age', '5m', join(vectors, 'valid/v01-basic-domain.json')]);
    expect(run.code).toBe(1);
    expect(run.stdout).toContain('reason: stale-timestamp');
  });
});

describe('generate → sign → verify, as a new user does it', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mailroom-cli-'));
  });

  it('round trips, and a tampered envelope fails', async () => {
    const generated = await mailroom(['keys', 'generate', '--domain', 'orders.example', '--selector', 'pw1', '--out', dir]);
    expect(generated.code).toBe(0);
    expect(generated.stdout).toMatch(/pw1\._domainkey\.pw\.orders\.example\. IN TXT "v=DKIM1; k=ed25519; p=[A-Za-z0-9+/]{43}="/);
    const privatePath = join(dir, 'orders.example.pw1.private.pem');
    expect(await readFile(privatePath, 'utf8')).toContain('BEGIN PRIVATE KEY');

    const again = await mailroom(['keys', 'generate', '--domain', 'orders.example', '--selector', 'pw1', '--out', dir]);
    expect(again.code).toBe(2);
    expect(again.stderr).toContain('already exists');

    const signed = await mailroom(['sign', '--key', privatePath, '--from', 'orders.example', '--selector', 'pw1', '--to', 'shop.example', '--subject', 'Hello@Host', '--body', '{"text":"héllo 👋"}']);
    expect(signed.code).toBe(0);
    const envelope = JSON.parse(signed.stdout) as { Header: Record<string, string>; Body: unknown };
    expect(envelope.Header).toMatchObject({ From: 'orders.example', To: 'shop.example', Subject: 'Hello@Host', Selector: 'pw1', Schema: 'pollyweb.org/MSG:1.0' });
    expect(envelope.Body).toEqual({ text: 'héllo 👋' });

    const publicPath = join(dir, 'orders.example.pw1.public.pem');
    expect(await mailroom(['verify', '--key', publicPath], signed.stdout)).toMatchObject({ code: 0, stdout: 'OK\n' });

    const dkimPath = join(dir, 'dkim.txt');
    await writeFile(dkimPath, /"(v=DKIM1[^"]+)"/.exec(generated.stdout)![1]!);
    expect(await mailroom(['verify', '--key', dkimPath], signed.stdout)).toMatchObject({ code: 0 });

    const tampered = signed.stdout.replace('Hello@Host', 'Hello@Hosts');
    const bad = await mailroom(['verify', '--key', publicPath], tampered);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toContain('reason: hash-mismatch');
  }, 60_000);

  it('a body file and a string body', async () => {
    const keys = await mailroom(['keys', 'generate', '--domain', 'files.example', '--out', dir]);
    expect(keys.code).toBe(0);
    const bodyPath = join(dir, 'body.json');
    await writeFile(bodyPath, '{"n": [1, 2.5, {"deep": true}]}');
    const signed = await mailroom(['sign', '--key', join(dir, 'files.example.pw1.private.pem'), '--from', 'files.example', '--to', 'shop.example', '--subject', 'S@R', '--body', `@${bodyPath}`]);
    expect(JSON.parse(signed.stdout).Body).toEqual({ n: [1, 2.5, { deep: true }] });
    const text = await mailroom(['sign', '--key', join(dir, 'files.example.pw1.private.pem'), '--to', 'shop.example', '--subject', 'S@R', '--body', 'plain words']);
    expect(JSON.parse(text.stdout)).toMatchObject({ Body: 'plain words', Header: { From: 'Anonymous' } });
    const array = await mailroom(['sign', '--key', join(dir, 'files.example.pw1.private.pem'), '--to', 'shop.example', '--subject', 'S@R', '--body', '[1]']);
    expect(array.code).toBe(2);
    expect(array.stderr).toContain('--body must be a JSON object or a string');
  }, 60_000);
});

describe('usage', () => {
  it('every command has --help', async () => {
    for (const command of [[], ['keys'], ['keys', 'generate'], ['sign'], ['verify'], ['start'], ['send'], ['status']]) {
      const run = await mailroom([...command, '--help']);
      expect({ command, code: run.code }).toEqual({ command, code: 0 });
      expect(run.stdout).toContain('Usage: mailroom');
    }
  }, 60_000);

  it('a missing option and an unknown command exit 2 with a message', async () => {
    const missing = await mailroom(['verify', join(vectors, 'valid/v01-basic-domain.json')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('exactly one of --key or --dns');
    const unknown = await mailroom(['frobnicate']);
    expect(unknown.code).toBe(2);
    const missingKey = await mailroom(['verify', '--key', join(vectors, 'keys/A/nope.pem'), join(vectors, 'valid/v01-basic-domain.json')]);
    expect(missingKey.code).toBe(2);
    expect(missingKey.stderr).toMatch(/error: /);
  }, 60_000);
});
