/**
 * The package as a user gets it: `npm pack` (which builds dist/), the tarball installed into a
 * fresh project in a temp folder (from the registry: slow, hence the long timeouts), then
 * (a) plain Node imports 'mailroom' and runs a runtime against a nats-server, (b) tsc with
 * `module: NodeNext`, `strict`, `skipLibCheck: false` type-checks the README's library
 * snippets, (c) `npx mailroom` answers, without tsx, and loads a `.ts` module only with tsx.
 * Skipped, saying why, only when npm or the registry cannot be reached.
 */
import { execFile, type ExecFileOptions } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNatsServer, type NatsServerHandle } from '../support/nats-server.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
const fixtures = join(root, 'test/package/consumer');
const SLOW = 300_000;

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** The environment without the npm_* variables of an enclosing `npm test`, as in a user's shell. */
const cleanEnv = (): NodeJS.ProcessEnv => Object.fromEntries(Object.entries(process.env).filter(([key]) => !/^npm_/i.test(key)));

function run(command: string, args: readonly string[], options: ExecFileOptions & { cwd: string }): Promise<Run> {
  return new Promise((resolve, reject) => {
    execFile(command, args, { env: cleanEnv(), maxBuffer: 32 * 1024 * 1024, timeout: SLOW, ...options }, (error, stdout, stderr) => {
      if (error && typeof error.code !== 'number') return reject(error); // not started (ENOENT) or killed
      resolve({ code: error ? Number(error.code) : 0, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

const NETWORK = /\b(ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ECONNRESET|ETIMEDOUT|ENETUNREACH|EHOSTUNREACH)\b|network/i;

let work: string;
let project: string;
let unavailable: string | undefined;
let server: NatsServerHandle | undefined;
const version = (JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as { version: string }).version;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'mailroom-consumer-'));
  project = join(work, 'project');
  let packed: Run;
  try {
    packed = await run('npm', ['pack', '--pack-destination', work], { cwd: root });
  } catch (error) {
    unavailable = `npm cannot run here: ${error instanceof Error ? error.message : String(error)}`;
    return;
  }
  if (packed.code !== 0) throw new Error(`npm pack failed:\n${packed.stderr}`);
  const tarball = (await readdir(work)).find((name) => name.endsWith('.tgz'));
  if (!tarball) throw new Error(`npm pack wrote no tarball:\n${packed.stdout}\n${packed.stderr}`);

  await mkdir(project);
  // Its own version, and an npm script, so `npm run` sets npm_package_version to 9.9.9.
  await writeFile(join(project, 'package.json'), JSON.stringify({ name: 'consumer', version: '9.9.9', private: true, type: 'module', scripts: { 'mailroom-version': 'mailroom --version' } }));
  const installed = await run('npm', ['install', '--no-audit', '--no-fund', join(work, tarball)], { cwd: project });
  if (installed.code !== 0) {
    if (NETWORK.test(installed.stderr)) unavailable = `the npm registry cannot be reached: ${installed.stderr.split('\n').find((line) => NETWORK.test(line))}`;
    else throw new Error(`npm install of the tarball failed:\n${installed.stderr}`);
    return;
  }
  for (const name of ['start-stop.mjs', 'readme-snippets.ts', 'traffic-light.machine.ts']) await copyFile(join(fixtures, name), join(project, name));
  server = await startNatsServer();
}, SLOW);

afterAll(async () => {
  await server?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

describe('the packed package in a fresh project', () => {
  it('installs without tsx, esbuild or effect, and ships the build, not the sources', async (context) => {
    if (unavailable) return context.skip(unavailable);
    const installed = await readdir(join(project, 'node_modules'));
    for (const name of ['tsx', 'esbuild', 'effect']) expect(installed).not.toContain(name);
    const pkg = join(project, 'node_modules/mailroom');
    expect(existsSync(join(pkg, 'src'))).toBe(false);
    for (const file of ['dist/src/index.js', 'dist/src/index.d.ts', 'dist/src/index.js.map', 'dist/machines/envelope.machine.js', 'dist/src/runtime/crypto-worker.mjs', 'dist/src/observability/dashboard/index.html', 'dist/src/observability/dashboard/stately-inspect.js', 'nats.conf', 'LICENSE', 'README.md']) {
      expect(existsSync(join(pkg, file)), file).toBe(true);
    }
  });

  it('(a) plain Node imports mailroom: the main entry loads no HTTP server, WebSocket, logger or metrics', async (context) => {
    if (unavailable) return context.skip(unavailable);
    const script = [
      "import { createRequire } from 'node:module';",
      "const mailroom = await import('mailroom');",
      "const loaded = Object.keys(createRequire(import.meta.url)('node:module')._cache).map((file) => /node_modules\\/((?:@[^/]+\\/)?[^/]+)/.exec(file)?.[1]).filter(Boolean);",
      'process.stdout.write(JSON.stringify({ exports: Object.keys(mailroom), loaded: [...new Set(loaded)] }));',
    ].join('\n');
    const result = await run(process.execPath, ['--input-type=module', '-e', script], { cwd: project });
    expect(result.stderr).toBe('');
    const { exports, loaded } = JSON.parse(result.stdout) as { exports: string[]; loaded: string[] };
    expect(exports).toEqual(expect.arrayContaining(['startMailroom', 'createMailroom', 'loadConfig', 'FinalError']));
    for (const heavy of ['fastify', 'ws', 'pino', 'pino-pretty', 'prom-client', '@statelyai/inspect', 'tsx']) expect(loaded).not.toContain(heavy);
  });

  it('(a) plain Node starts a runtime against a nats-server, gets a reply, and stops', async (context) => {
    if (unavailable) return context.skip(unavailable);
    const result = await run(process.execPath, ['start-stop.mjs'], { cwd: project, env: { ...cleanEnv(), CONSUMER_NATS_URL: server!.url }, timeout: 60_000 });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual({ text: 'hello orders.example, you said hi' });
  }, 90_000);

  it("(b) tsc (NodeNext, strict, skipLibCheck off) type-checks the README's library snippets with zero errors", async (context) => {
    if (unavailable) return context.skip(unavailable);
    const tsconfig = {
      compilerOptions: {
        target: 'ES2022',
        module: 'NodeNext',
        moduleResolution: 'NodeNext',
        strict: true,
        skipLibCheck: false,
        noEmit: true,
        // @types/node as a Node project has it (this repository's copy, to install less).
        types: ['node'],
        typeRoots: [join(root, 'node_modules/@types')],
      },
      files: ['readme-snippets.ts'],
    };
    await writeFile(join(project, 'tsconfig.json'), JSON.stringify(tsconfig, null, 2));
    const result = await run(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', '.'], { cwd: project });
    expect(result.stdout + result.stderr).toBe('');
    expect(result.code).toBe(0);
  }, SLOW);

  it('(c) npx mailroom --help and --version answer on plain Node; --version is Mailroom\'s, not the project\'s', async (context) => {
    if (unavailable) return context.skip(unavailable);
    const help = await run('npx', ['--no-install', 'mailroom', '--help'], { cwd: project });
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Usage: mailroom');
    // Through an npm script, where npm_package_version is the consumer's 9.9.9.
    const shown = await run('npm', ['run', '--silent', 'mailroom-version'], { cwd: project });
    expect(shown.code).toBe(0);
    expect(shown.stdout.trim()).toBe(version);
  }, 60_000);

  it('(c) a .ts module needs tsx: a named error without it, loaded through tsx with it', async (context) => {
    if (unavailable) return context.skip(unavailable);
    const args = ['--no-install', 'mailroom', 'machines', 'export', '--module', './traffic-light.machine.ts', '--out', 'exported'];
    const without = await run('npx', args, { cwd: project });
    expect(without.code).not.toBe(0);
    expect(without.stderr).toContain('tsx is not installed');
    expect(without.stderr).toContain('install tsx to load .ts handler modules');
    // tsx as the user would add it (this repository's copy, linked, to install less).
    await symlink(join(root, 'node_modules/tsx'), join(project, 'node_modules/tsx'), 'dir');
    const withTsx = await run('npx', args, { cwd: project });
    expect(withTsx.stderr).toBe('');
    expect(withTsx.code).toBe(0);
    expect(existsSync(join(project, 'exported/trafficLight.json'))).toBe(true);
  }, 60_000);
});
