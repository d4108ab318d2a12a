/** The publish/subscribe example runs as a user runs it, and every subscriber handles every order. */
import { describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));

describe('examples/order-events', () => {
  it('fans order.placed out to invoicing and shipping', async () => {
    const { code, stdout } = await new Promise<{ code: number; stdout: string }>((resolve) =>
      execFile(process.execPath, ['--import', 'tsx/esm', 'examples/order-events/run.ts'], { cwd: root, timeout: 60_000, env: { ...process.env, NATS_URL: '' } }, (error, out) =>
        resolve({ code: error ? Number(error.code ?? 1) : 0, stdout: out }),
      ),
    );
    expect(code).toBe(0);
    for (const who of ['invoicing', 'shipping']) for (const id of [1, 2, 3]) expect(stdout).toContain(`${who} handled order ${id} (${10 * id} EUR)`);
  }, 90_000);
});
