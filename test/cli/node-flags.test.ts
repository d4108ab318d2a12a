/** The runtime's Node flags live on the shebang of bin/mailroom.js; benchmarks read them from there. */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runtimeNodeFlags } from '../../src/cli/node-flags.ts';

const bin = fileURLToPath(new URL('../../bin/mailroom.js', import.meta.url));

describe('runtimeNodeFlags', () => {
  it('reads the flags from the shebang of bin/mailroom.js', () => {
    const flags = runtimeNodeFlags();
    expect(flags.some((flag) => /^--max-semi-space-size=\d+$/.test(flag))).toBe(true);
    for (const flag of flags) expect(flag).toMatch(/^--[\w-]+(=\S+)?$/);
  });

  it('bin/mailroom.js runs by its shebang, and node takes the flags', async () => {
    const script = 'process.stdout.write(JSON.stringify(process.execArgv))';
    // The shebang starts node with the flags; `--version` proves the CLI itself starts that way.
    const version = await new Promise<string>((resolve, reject) => execFile(bin, ['--version'], (error, stdout) => (error ? reject(error) : resolve(stdout))));
    expect(version.trim()).toMatch(/^\d+\.\d+\.\d+/);
    // Node takes every one of them (it refuses to start on an unknown flag).
    const execArgv = await new Promise<string>((resolve, reject) => execFile(process.execPath, [...runtimeNodeFlags(), '-e', script], (error, stdout) => (error ? reject(error) : resolve(stdout))));
    expect((JSON.parse(execArgv) as string[]).slice(0, runtimeNodeFlags().length)).toEqual(runtimeNodeFlags());
  });
});
