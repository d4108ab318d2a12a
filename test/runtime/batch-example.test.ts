/** The batch example runs as a user runs it: every order is answered, in batches of at most ten; order 7 is refused alone. */
import { describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));

describe('examples/batch', () => {
  it('answers 25 orders through batches of at most ten, refusing only order 7', async () => {
    const { code, stdout } = await new Promise<{ code: number; stdout: string }>((resolve) =>
      execFile(process.execPath, ['--import', 'tsx/esm', 'examples/batch/run.ts'], { cwd: root, timeout: 80_000, env: { ...process.env, NATS_URL: '' } }, (error, out) =>
        resolve({ code: error ? Number(error.code ?? 1) : 0, stdout: out }),
      ),
    );
    expect(code).toBe(0);
    for (let n = 1; n <= 25; n++) {
      if (n === 7) expect(stdout).toContain('order 7: refused (cannot order 0 of item-7)');
      else expect(stdout).toContain(`order ${n}: {"item":"item-${n}","quantity":${n},"accepted":true`);
    }
    const sizes = /25 orders in \d+ handler calls: ([\d, ]+)/.exec(stdout)?.[1]?.split(', ').map(Number);
    expect(sizes?.reduce((a, b) => a + b, 0)).toBe(25);
    for (const size of sizes ?? []) expect(size).toBeLessThanOrEqual(10);
  }, 90_000);
});
