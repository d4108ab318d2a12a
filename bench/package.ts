/**
 * The package as a user installs it (issue 14): `npm pack`, the tarball installed into a fresh
 * project, then, in one run,
 *   - install size: the project's node_modules (the package and its production dependencies);
 *   - CLI cold start: `mailroom --version` and `mailroom verify` of one envelope, each as a
 *     ratio to `node -e 0` (medians of interleaved runs);
 *   - `mailroom start` idle RSS with the quick start's config (its keys, domains and handlers,
 *     the handlers as a `.js` module, `http.port: 0`) against an external nats-server, read
 *     from /proc a few seconds after "ready"; also with the handlers as a `.ts` module (tsx
 *     then loads on demand).
 * The same for the package before issue 14 (commit BEFORE, overridable with
 * BENCH_PACKAGE_BEFORE=<git revision>; empty skips it): packed from `git archive`, so the
 * checkout is not touched. Needs the npm registry; without it the figures say so.
 *
 *   npx tsx bench/package.ts [--quick] [--json]
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, readdir, symlink, writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { encodeEnvelope, signEnvelope } from '../src/envelope/index.ts';
import { generateDomainKeys, parsePrivateKey } from '../src/keys/index.ts';
import { spawnNatsServer } from '../src/transport/spawn-nats-server.ts';
import { Cleanup, isMain, makeTempDir, median, pollUntil, progress, removeTempDir, runAsScript, trackChild, type BenchOptions, type BenchResult, type SummaryRow } from './support.ts';

/** main before issue 14: exports at .ts sources, tsx and effect as dependencies. */
const BEFORE = 'd2cb040';
const root = fileURLToPath(new URL('..', import.meta.url));
const quickstart = join(root, 'examples/quickstart');
const MB = 1024 * 1024;

interface Ran {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** The environment without the npm_* variables of an enclosing `npm run bench`. */
const cleanEnv = (extra: Record<string, string> = {}): NodeJS.ProcessEnv => ({ ...Object.fromEntries(Object.entries(process.env).filter(([key]) => !/^npm_/i.test(key))), ...extra });

function exec(command: string, args: readonly string[], cwd: string, env: NodeJS.ProcessEnv = cleanEnv()): Promise<Ran> {
  return new Promise((resolve, reject) =>
    execFile(command, args, { cwd, env, maxBuffer: 64 * MB, timeout: 600_000 }, (error, stdout, stderr) => {
      if (error && typeof error.code !== 'number') return reject(error);
      resolve({ code: error ? Number(error.code) : 0, stdout: String(stdout), stderr: String(stderr) });
    }),
  );
}

async function must(command: string, args: readonly string[], cwd: string): Promise<Ran> {
  const result = await exec(command, args, cwd);
  if (result.code !== 0) throw new Error(`${command} ${args.join(' ')} exited ${result.code}: ${result.stderr.slice(-800)}`);
  return result;
}

/** Milliseconds one run of `file args` takes, start to exit. */
async function timeOnce(file: string, args: readonly string[], cwd: string): Promise<number> {
  const started = process.hrtime.bigint();
  const result = await exec(file, args, cwd);
  if (result.code !== 0) throw new Error(`${file} ${args.join(' ')} exited ${result.code}: ${result.stderr.slice(-400)}`);
  return Number(process.hrtime.bigint() - started) / 1e6;
}

async function du(dir: string): Promise<number> {
  const { stdout } = await must('du', ['-sb', dir], dir);
  return Number(stdout.split(/\s/)[0]);
}

interface Installed {
  readonly project: string;
  readonly bin: string;
  readonly bytes: number;
  readonly packages: number;
  readonly tarballBytes: number;
}

/** Packs `source` (a directory with package.json) and installs the tarball into a fresh project under `dir`. */
async function packAndInstall(source: string, dir: string): Promise<Installed> {
  const packs = join(dir, 'packs');
  await mkdir(packs, { recursive: true });
  await must('npm', ['pack', '--pack-destination', packs], source);
  const tarball = join(packs, (await readdir(packs)).find((name) => name.endsWith('.tgz'))!);
  const project = join(dir, 'project');
  await mkdir(project);
  await writeFile(join(project, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true, type: 'module' }));
  await must('npm', ['install', '--no-audit', '--no-fund', tarball], project);
  const lock = JSON.parse(await readFile(join(project, 'package-lock.json'), 'utf8')) as { packages: Record<string, unknown> };
  return {
    project,
    bin: join(project, 'node_modules/mailroom/bin/mailroom.js'),
    bytes: await du(join(project, 'node_modules')),
    // Installed ones: the lock also lists optional packages for other platforms (esbuild's).
    packages: Object.keys(lock.packages).filter((key) => key.startsWith('node_modules/') && existsSync(join(project, key))).length,
    tarballBytes: (await readFile(tarball)).length,
  };
}

/** The quick start's config in `project`: its keys, `http.port: 0`, handlers from `handlers`. */
async function quickstartConfig(project: string, handlers: string): Promise<string> {
  const text = (await readFile(join(quickstart, 'mailroom.yaml'), 'utf8'))
    .replaceAll('./keys/', `${join(quickstart, 'keys')}/`)
    .replace('./handlers.ts', handlers)
    .replace(/port: 8080/, 'port: 0');
  const file = join(project, `mailroom-${handlers.replace(/\W/g, '')}.yaml`);
  await writeFile(file, text);
  return file;
}

/** The quick start's handlers, importing from the installed package. */
const HANDLERS = `import { FinalError } from 'mailroom';
export default {
  'Hello@Host': ({ from, body }) => ({ text: \`hello \${from}, you said \${JSON.stringify(typeof body === 'string' ? body : body.text ?? body)}\` }),
  'Quote@Shop': ({ body }) => {
    const item = typeof body === 'object' ? body.item : undefined;
    if (typeof item !== 'string') throw new FinalError('Body.item must name an item', 'bad-request');
    return { item, price: { amount: 42, currency: 'EUR' } };
  },
};
`;

/** `mailroom start -c config` (by its shebang) until "ready", then its RSS after `settleMs`. */
async function idleRss(bin: string, config: string, natsUrl: string, settleMs: number): Promise<number> {
  const child = trackChild(spawn(bin, ['start', '-c', config], { cwd: join(config, '..'), env: cleanEnv({ NATS_URL: natsUrl }), stdio: ['ignore', 'pipe', 'pipe'] }));
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  try {
    await pollUntil(() => /ready/.test(output) || (child.exitCode !== null ? Promise.reject(new Error(`exited ${child.exitCode}: ${output.slice(-600)}`)) : false), { timeoutMs: 120_000, what: `mailroom start (${bin})` });
    // Idle: nothing arrives; the figure is what the process keeps resident once started.
    await new Promise((resolve) => setTimeout(resolve, settleMs));
    const status = await readFile(`/proc/${child.pid}/status`, 'utf8');
    return Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]) * 1024;
  } finally {
    child.kill('SIGTERM');
    await new Promise((resolve) => (child.exitCode !== null ? resolve(undefined) : child.once('exit', resolve)));
  }
}

interface Figures {
  readonly installed: Installed;
  version: number[];
  verify: number[];
  rss?: number;
  rssTs?: number;
}

export async function run(options: BenchOptions): Promise<BenchResult> {
  const scope = new Cleanup();
  const before = process.env.BENCH_PACKAGE_BEFORE ?? BEFORE;
  const rounds = options.quick ? 5 : 11;
  const settleMs = options.quick ? 2_000 : 5_000;
  try {
    const dir = await makeTempDir('package');
    scope.defer(() => removeTempDir(dir));

    progress(options, 'package: npm pack (builds dist/), install into a fresh project');
    let after: Figures;
    try {
      after = { installed: await packAndInstall(root, join(dir, 'after')), version: [], verify: [] };
    } catch (error) {
      const message = `unavailable (npm pack / install failed: ${error instanceof Error ? error.message.slice(0, 160) : String(error)})`;
      return { name: 'package', results: {}, notes: [message], summary: [{ figure: 'package: install size', value: message, unit: '' }] };
    }
    let old: Figures | undefined;
    const notes: string[] = [];
    if (before) {
      progress(options, `package: the package at ${before} (git archive, npm pack, install)`);
      try {
        const source = join(dir, 'before-source');
        await mkdir(source);
        const archive = join(dir, 'before.tar');
        await must('git', ['archive', '--format=tar', '-o', archive, before], root);
        await must('tar', ['xf', archive, '-C', source], root);
        old = { installed: await packAndInstall(source, join(dir, 'before')), version: [], verify: [] };
      } catch (error) {
        notes.push(`before (${before}): unavailable: ${error instanceof Error ? error.message.slice(0, 200) : String(error)}`);
      }
    }

    // One signed envelope and its sender's public key, for `mailroom verify`.
    const keys = generateDomainKeys('orders.example', 'pw1');
    const envelope = encodeEnvelope(signEnvelope({ From: 'orders.example', To: 'shop.example', Selector: 'pw1', Subject: 'Hello@Host', Body: { text: 'hi' } }, parsePrivateKey(keys.privateKeyPem)));
    for (const figures of [after, old]) {
      if (!figures) continue;
      await writeFile(join(figures.installed.project, 'envelope.json'), envelope);
      await writeFile(join(figures.installed.project, 'orders.example.pw1.public.pem'), keys.publicKeyPem);
    }

    progress(options, `package: cold starts, ${rounds} rounds`);
    const node: number[] = [];
    for (let round = 0; round < rounds; round++) {
      node.push(await timeOnce(process.execPath, ['-e', '0'], dir));
      for (const figures of [after, old]) {
        if (!figures || (figures === old && round >= 3)) continue; // the old CLI takes seconds: three rounds
        figures.version.push(await timeOnce(figures.installed.bin, ['--version'], figures.installed.project));
        figures.verify.push(await timeOnce(figures.installed.bin, ['verify', '--key', 'orders.example.pw1.public.pem', 'envelope.json'], figures.installed.project));
      }
    }

    progress(options, 'package: mailroom start idle RSS (quick start config, external nats-server)');
    const server = await spawnNatsServer({ args: ['-js', '-sd', join(dir, 'nats'), '-a', '127.0.0.1', '-p', '-1'], readyTimeoutMs: 30_000 });
    scope.defer(() => server.stop());
    for (const figures of [after, old]) {
      if (!figures) continue;
      await writeFile(join(figures.installed.project, 'handlers.js'), HANDLERS);
      figures.rss = await idleRss(figures.installed.bin, await quickstartConfig(figures.installed.project, './handlers.js'), server.url, settleMs);
    }
    // The same handlers as TypeScript: the built CLI registers tsx for them (linked from this checkout).
    await writeFile(join(after.installed.project, 'handlers.ts'), HANDLERS);
    await symlink(join(root, 'node_modules/tsx'), join(after.installed.project, 'node_modules/tsx'), 'dir');
    after.rssTs = await idleRss(after.installed.bin, await quickstartConfig(after.installed.project, './handlers.ts'), server.url, settleMs);

    const nodeMs = median(node);
    const results: Record<string, number> = {
      'node -e 0 (ms)': nodeMs,
      'mailroom --version (ms)': median(after.version),
      'mailroom verify, one envelope (ms)': median(after.verify),
      'mailroom start idle RSS, .js handlers (MB)': after.rss! / MB,
      'mailroom start idle RSS, .ts handlers through tsx (MB)': after.rssTs / MB,
      'install size: node_modules (MB)': after.installed.bytes / MB,
      'install size: packages': after.installed.packages,
      'tarball (kB)': after.installed.tarballBytes / 1024,
    };
    if (old) {
      Object.assign(results, {
        'before: mailroom --version (ms)': median(old.version),
        'before: mailroom verify, one envelope (ms)': median(old.verify),
        'before: mailroom start idle RSS (MB)': old.rss! / MB,
        'before: install size: node_modules (MB)': old.installed.bytes / MB,
        'before: install size: packages': old.installed.packages,
        'before: tarball (kB)': old.installed.tarballBytes / 1024,
      });
    }
    const versionRatio = median(after.version) / nodeMs;
    const verifyRatio = median(after.verify) / nodeMs;
    const summary: SummaryRow[] = [
      { figure: 'package: mailroom --version', value: median(after.version), unit: 'ms', ratio: versionRatio, versus: 'node -e 0', goal: '≤ 3 × node -e 0', met: versionRatio <= 3 },
      { figure: 'package: mailroom verify (one envelope)', value: median(after.verify), unit: 'ms', ratio: verifyRatio, versus: 'node -e 0', goal: '≤ 4 × node -e 0', met: verifyRatio <= 4 },
    ];
    if (old) {
      summary.push(
        { figure: 'package: mailroom start idle RSS', value: after.rss! / MB, unit: 'MB', ratio: after.rss! / old.rss!, versus: `before (${(old.rss! / MB).toFixed(1)} MB)`, goal: '≥ 30 MB lower than before', met: old.rss! - after.rss! >= 30 * MB },
        { figure: 'package: install size (package + production dependencies)', value: after.installed.bytes / MB, unit: 'MB', ratio: after.installed.bytes / old.installed.bytes, versus: `before (${(old.installed.bytes / MB).toFixed(1)} MB)`, goal: '≤ 0.5 × before', met: after.installed.bytes <= old.installed.bytes / 2 },
      );
    } else {
      summary.push(
        { figure: 'package: mailroom start idle RSS', value: after.rss! / MB, unit: 'MB' },
        { figure: 'package: install size (package + production dependencies)', value: after.installed.bytes / MB, unit: 'MB' },
      );
    }
    notes.push(
      `cold starts: medians of ${rounds} interleaved runs (the package before: 3), each CLI run by its shebang as a user's shell runs it`,
      `idle RSS: VmRSS ${settleMs / 1000} s after "ready", quick start config, external nats-server ${server.version}`,
      'install size: du -sb of the fresh project\'s node_modules after `npm install <tarball>`',
    );
    return { name: 'package', results, notes, summary };
  } finally {
    await scope.run();
  }
}

if (isMain(import.meta.url)) await runAsScript(run);
