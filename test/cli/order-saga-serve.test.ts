/** `examples/order-saga/run.ts --serve` on a port in use: one clear error with a hint, no stack, exit 1. */
import { describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));

describe('the order saga example with --serve', () => {
  it('says which port is in use and how to pick another, for the HTTP port and the inspector port', async () => {
    const holder = createServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    const busy = String((holder.address() as { port: number }).port);
    const run = (args: string[]) =>
      new Promise<{ code: number; stderr: string }>((resolve) =>
        execFile(process.execPath, ['--import', 'tsx', 'examples/order-saga/run.ts', '--serve', ...args], { cwd: root, timeout: 90_000, env: { ...process.env, NATS_URL: '', MAILROOM_NATS_URL: '' } }, (error, _stdout, stderr) =>
          resolve({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, stderr }),
        ),
      );
    try {
      const http = await run(['--port', busy, '--inspect-port', '0']);
      expect(http.code).toBe(1);
      expect(http.stderr).toContain(`:${busy} is already in use`);
      expect(http.stderr).toContain('hint: stop what listens there (an earlier run?), or pick another port: --port N');
      expect(http.stderr).not.toMatch(/^\s+at /m);
      const inspector = await run(['--port', '0', '--inspect-port', busy]);
      expect(inspector.code).toBe(1);
      expect(inspector.stderr).toContain('error: cannot start the inspector');
      expect(inspector.stderr).toContain('--inspect-port N');
    } finally {
      await new Promise((resolve) => holder.close(resolve));
    }
  }, 180_000);
});
