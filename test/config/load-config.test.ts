import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig, MAX_CONFIG_BYTES, parseConfig } from '../../src/config/index.ts';
import { FULL_EXAMPLE_YAML, rejectedConfigError } from './support.ts';

let dir: string;
let cwd: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mailroom-config-'));
  cwd = process.cwd();
});

afterEach(async () => {
  process.chdir(cwd);
  await rm(dir, { recursive: true, force: true });
});

async function write(name: string, text: string | Buffer): Promise<string> {
  const file = join(dir, name);
  await mkdir(join(file, '..'), { recursive: true });
  await writeFile(file, text);
  return file;
}

describe('loadConfig: which file', () => {
  it('reads an explicit path and resolves paths against its folder', async () => {
    const file = await write('etc/mailroom.yaml', FULL_EXAMPLE_YAML);
    const config = await loadConfig(file, { env: {} });
    expect(config.domains[0]?.privateKey).toBe(join(dir, 'etc/keys/orders.example.pw1.pem'));
    expect(config.http.tls?.cert).toBe(join(dir, 'etc/tls/cert.pem'));
    expect(config.nats.embedded.storeDir).toBe(join(dir, 'etc/.mailroom/nats'));
  });

  it('returns the defaults when no path is given and ./mailroom.yaml does not exist', async () => {
    process.chdir(dir);
    const config = await loadConfig(undefined, { env: {} });
    expect(config).toEqual(parseConfig({}, { baseDir: dir }));
    expect(config.domains).toEqual([]);
  });

  it('reads ./mailroom.yaml from the working directory when no path is given', async () => {
    await write('mailroom.yaml', 'http: { port: 9090 }\ndomains: [{ name: a.example, selector: s1, privateKey: k.pem }]\n');
    process.chdir(dir);
    const config = await loadConfig(undefined, { env: {} });
    expect(config.http.port).toBe(9090);
    expect(config.domains[0]?.privateKey).toBe(join(dir, 'k.pem'));
  });

  it('refuses a missing explicit file, naming it', async () => {
    const missing = join(dir, 'nope.yaml');
    const error = await rejectedConfigError(loadConfig(missing, { env: {} }));
    expect(error.message).toContain(missing);
    expect(error.issues).toEqual([{ path: '$', message: 'file not found' }]);
  });

  it('reads the file MAILROOM_CONFIG names, and refuses it missing, naming the variable', async () => {
    const file = await write('conf/prod.yaml', 'http: { port: 7070 }\n');
    expect((await loadConfig(undefined, { env: { MAILROOM_CONFIG: file } })).http.port).toBe(7070);
    const error = await rejectedConfigError(loadConfig(undefined, { env: { MAILROOM_CONFIG: join(dir, 'gone.yaml') } }));
    expect(error.issues).toEqual([{ path: 'MAILROOM_CONFIG', message: `${join(dir, 'gone.yaml')}: file not found` }]);
  });

  it('prefers an explicit path over MAILROOM_CONFIG', async () => {
    const file = await write('a.yaml', 'http: { port: 1111 }\n');
    const config = await loadConfig(file, { env: { MAILROOM_CONFIG: join(dir, 'gone.yaml') } });
    expect(config.http.port).toBe(1111);
  });

  it('refuses a directory', async () => {
    await mkdir(join(dir, 'folder.yaml'));
    const error = await rejectedConfigError(loadConfig(join(dir, 'folder.yaml'), { env: {} }));
    expect(error.issues).toEqual([{ path: '$', message: 'not a regular file' }]);
  });

  it('reads an empty file as the defaults', async () => {
    const file = await write('empty.yaml', '# nothing yet\n');
    expect((await loadConfig(file, { env: {} })).http.port).toBe(8080);
  });
});

describe('loadConfig: environment', () => {
  it('applies overrides over the file', async () => {
    const file = await write('mailroom.yaml', FULL_EXAMPLE_YAML);
    const config = await loadConfig(file, { env: { MAILROOM_NATS_URL: 'nats://other:4222', MAILROOM_HTTP_PORT: '0' } });
    expect(config.nats.url).toBe('nats://other:4222');
    expect(config.http.port).toBe(0);
  });

  it('names a bad variable, and the file', async () => {
    const file = await write('mailroom.yaml', 'http: { port: 8080 }\n');
    const error = await rejectedConfigError(loadConfig(file, { env: { PORT: '80a' } }));
    expect(error.issues.map((issue) => issue.path)).toEqual(['PORT']);
    expect(error.message).toContain(`invalid configuration in ${file}`);
  });
});

describe('loadConfig: bad files', () => {
  it('gives the line and column of a YAML syntax error', async () => {
    const file = await write('mailroom.yaml', 'http:\n  port: 8080\ndomains: [\n  { name: a.example\nvalidation: {}\n');
    const error = await rejectedConfigError(loadConfig(file, { env: {} }));
    expect(error.issues.length).toBeGreaterThan(0);
    expect(error.issues[0]?.message).toMatch(/^line [45], column \d+: /);
    expect(error.message).toContain(file);
  });

  it('refuses duplicate keys, with the line', async () => {
    const file = await write('mailroom.yaml', 'http:\n  port: 1\n  port: 2\n');
    const error = await rejectedConfigError(loadConfig(file, { env: {} }));
    expect(error.issues).toEqual([{ path: '$', message: expect.stringMatching(/^line 3, column 3: Map keys must be unique/) }]);
  });

  it('refuses several documents and unknown tags', async () => {
    const docs = await write('docs.yaml', 'http: {}\n---\nnats: {}\n');
    expect((await rejectedConfigError(loadConfig(docs, { env: {} }))).issues[0]?.message).toMatch(/^line 2, column 1: .*multiple documents/);
    const tagged = await write('tagged.yaml', 'http:\n  host: !env HOST\n');
    expect((await rejectedConfigError(loadConfig(tagged, { env: {} }))).issues[0]?.message).toMatch(/^line 2, column 9: Unresolved tag/);
  });

  it('refuses an alias bomb', async () => {
    const bomb = ['a: &a [x, x, x, x, x, x, x, x, x, x]', 'b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]', 'c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]', 'd: [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]'];
    const file = await write('bomb.yaml', `${bomb.join('\n')}\n`);
    const error = await rejectedConfigError(loadConfig(file, { env: {} }));
    expect(error.issues[0]?.message).toMatch(/alias/i);
  });

  it('reads a file of exactly 1 MiB and refuses one byte more', async () => {
    const body = 'http: { port: 8081 }\n';
    const padded = body + '#'.repeat(MAX_CONFIG_BYTES - body.length - 1) + '\n';
    expect(Buffer.byteLength(padded)).toBe(MAX_CONFIG_BYTES);
    const fits = await write('fits.yaml', padded);
    expect((await loadConfig(fits, { env: {} })).http.port).toBe(8081);

    const big = await write('big.yaml', `${padded}\n`);
    const error = await rejectedConfigError(loadConfig(big, { env: {} }));
    expect(error.issues).toEqual([{ path: '$', message: expect.stringContaining('1 MiB') }]);
  });

  it('refuses text that is not UTF-8', async () => {
    const file = await write('latin1.yaml', Buffer.from([0x68, 0x3a, 0x20, 0xe9, 0x0a]));
    expect((await rejectedConfigError(loadConfig(file, { env: {} }))).issues[0]?.message).toBe('not UTF-8 text');
  });

  it('reports schema problems with their paths and the file name', async () => {
    const file = await write('mailroom.yaml', 'domians: []\ndomains:\n  - { name: a.example, selector: pw1 }\n');
    const error = await rejectedConfigError(loadConfig(file, { env: {} }));
    expect(error.issues.map((issue) => issue.path)).toEqual(['domains.0.privateKey', 'domians']);
    expect(error.message).toContain(`invalid configuration in ${file}: 2 problems`);
  });
});
