// `npm run build` (and `prepack`: `npm pack` and `npm publish` run it; a checkout needs no build):
// src/ and machines/ to dist/ with tsc (JavaScript, declarations, source maps), then the files
// the code reads at run time beside itself, and the browser bundle of Stately's inspector.
// tsc, not a bundler: the output keeps one file per module, so the lazy `import()`s that keep
// the root entry and the CLI light stay lazy, and the declarations are tsc's own.
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const require = createRequire(import.meta.url);
process.chdir(root);

rmSync('dist', { recursive: true, force: true });
execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', 'tsconfig.build.json'], { stdio: 'inherit' });

// Read at run time with `new URL('./…', import.meta.url)`: the crypto worker and the dashboard's files.
const assets = [['src/runtime', /^crypto-worker\.mjs$/], ['src/observability/dashboard', /\.(?:js|css|html)$/]];
for (const [dir, pattern] of assets) {
  mkdirSync(`dist/${dir}`, { recursive: true });
  for (const name of readdirSync(dir)) if (pattern.test(name)) copyFileSync(`${dir}/${name}`, `dist/${dir}/${name}`);
}

// The inspector relay page's `createBrowserInspector`, bundled now, so the package needs no esbuild.
const { build } = await import('esbuild');
const bundle = await build({
  stdin: { contents: "export { createBrowserInspector } from '@statelyai/inspect';", resolveDir: root, loader: 'js' },
  bundle: true,
  format: 'esm',
  platform: 'browser',
  minify: true,
  write: false,
  logLevel: 'silent',
});
writeFileSync('dist/src/observability/dashboard/stately-inspect.js', bundle.outputFiles[0].text);
