/**
 * `mailroom sign --body` and `mailroom send --body` sign the Body as written (numbers kept
 * as their tokens), in JCS or, with `--canonical python` or a `canonical: python`
 * directory entry, in the reference implementation's form.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { canonicalHeaderJson } from '../../src/envelope/canonical.ts';
import { hashHex, verifyEnvelopeText } from '../../src/envelope/index.ts';
import { parsePublicKey } from '../../src/keys/public-key.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
const bin = join(root, 'bin/mailroom.js');

function mailroom(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [bin, ...args], { cwd: root, timeout: 30_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    }).stdin?.end();
  });
}

const BODY = '{"a":1.0,"b":-0.0,"c":12345678901234567890}';
const PYTHON = '{"a":1.0,"b":-0.0,"c":12345678901234567890}';
const JCS = '{"a":1,"b":0,"c":12345678901234567000}';

function expectSigned(text: string, canonicalBody: string): void {
  expect(text).toContain(`"Body":${BODY}`);
  const envelope = JSON.parse(text) as { Header: Parameters<typeof canonicalHeaderJson>[0]; Hash: string };
  expect(envelope.Hash).toBe(hashHex(Buffer.from(`{"Body":${canonicalBody},"Header":${canonicalHeaderJson({ ...envelope.Header, Schema: 'pollyweb.org/MSG:1.0' })}}`, 'utf8')));
}

describe('signing the Body as written', () => {
  let dir: string;
  let publicKeyPath: string;
  let inbox: Server;
  let inboxUrl: string;
  const received: string[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mailroom-lossless-'));
    expect((await mailroom(['keys', 'generate', '--domain', 'orders.example', '--selector', 'pw1', '--out', dir])).code).toBe(0);
    publicKeyPath = join(dir, 'orders.example.pw1.public.pem');
    inbox = createServer((req, res) => {
      let text = '';
      req.setEncoding('utf8');
      req.on('data', (chunk: string) => (text += chunk));
      req.on('end', () => {
        received.push(text);
        res.writeHead(202, { 'content-type': 'application/json' }).end('{"status":"accepted"}');
      });
    });
    await new Promise<void>((resolve) => inbox.listen(0, '127.0.0.1', resolve));
    inboxUrl = `http://127.0.0.1:${(inbox.address() as { port: number }).port}/inbox`;
  }, 60_000);

  afterAll(async () => {
    await new Promise((resolve) => inbox.close(resolve));
  });

  it('mailroom sign: JCS by default, the Python form with --canonical python; Mailroom verifies both', async () => {
    for (const [flags, canonical] of [[[], JCS], [['--canonical', 'python'], PYTHON], [['--canonical', 'jcs'], JCS]] as const) {
      const run = await mailroom(['sign', '--key', join(dir, 'orders.example.pw1.private.pem'), '--from', 'orders.example', '--selector', 'pw1', '--to', 'shop.example', '--subject', 'Price@Shop', '--body', BODY, ...flags]);
      expect(run).toMatchObject({ code: 0 });
      expectSigned(run.stdout, canonical);
      expect(verifyEnvelopeText(run.stdout.trim(), parsePublicKey(await readFile(publicKeyPath, 'utf8'))).ok).toBe(true);
      const cli = await new Promise<{ code: number; stdout: string }>((resolve) => {
        const child = execFile(process.execPath, [bin, 'verify', '--key', publicKeyPath], { cwd: root, timeout: 30_000 }, (error, stdout) => resolve({ code: error ? 1 : 0, stdout }));
        child.stdin?.end(run.stdout);
      });
      expect(cli).toMatchObject({ code: 0, stdout: 'OK\n' });
    }
    const wrong = await mailroom(['sign', '--key', join(dir, 'orders.example.pw1.private.pem'), '--to', 'shop.example', '--subject', 'S@R', '--canonical', 'xml']);
    expect(wrong.code).not.toBe(0);
    expect(wrong.stderr).toContain('jcs, python');
  }, 60_000);

  it('mailroom send: the Body as written, in the form of the directory entry of --to (or --canonical)', async () => {
    const config = join(dir, 'mailroom.yaml');
    await writeFile(
      config,
      [
        'domains:',
        `  - { name: orders.example, selector: pw1, privateKey: ${join(dir, 'orders.example.pw1.private.pem')} }`,
        'directory:',
        '  ref.example: { canonical: python }',
        '  shop.example: { inbox: https://shop.example/inbox, canonical: jcs }',
        '',
      ].join('\n'),
    );
    const send = (to: string, extra: string[] = []) => mailroom(['send', '-c', config, '--from', 'orders.example', '--to', to, '--subject', 'Price@Shop', '--body', BODY, '--inbox', inboxUrl, ...extra]);
    for (const [to, extra, canonical] of [['REF.example', [], PYTHON], ['shop.example', [], JCS], ['unknown.example', [], JCS], ['shop.example', ['--canonical', 'python'], PYTHON]] as const) {
      const run = await send(to, [...extra]);
      expect(run, run.stderr).toMatchObject({ code: 0 });
      expectSigned(received.at(-1)!, canonical);
      expect(verifyEnvelopeText(received.at(-1)!, parsePublicKey(await readFile(publicKeyPath, 'utf8'))).ok).toBe(true);
    }
  }, 60_000);
});
