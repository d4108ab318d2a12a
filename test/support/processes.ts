/** Small helpers for tests that start and kill processes and servers. */
import { createServer } from 'node:net';

/** True while a process with this pid exists. */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (_) {
    return false;
  }
}

/**
 * Ports for test servers come from below Linux's ephemeral range (32768–60999 by default), so the
 * kernel never hands one to an outgoing connection or a `listen(0)` between the moment a test picks
 * it and the moment its server binds it, or while a killed server waits to be restarted on it.
 * Each vitest worker (`VITEST_POOL_ID`) draws from its own slice, so two test files running at once
 * never pick the same port; within a worker no port is handed out twice.
 */
const PORT_FLOOR = 20_000;
const SLICE = 1_500;
const SLICES = 8;
const handedOut = new Set<number>();

function sliceStart(): number {
  const id = Number(process.env.VITEST_POOL_ID ?? process.env.VITEST_WORKER_ID ?? 0);
  return PORT_FLOOR + ((Number.isInteger(id) && id > 0 ? id : 0) % SLICES) * SLICE;
}

function bindable(port: number): Promise<boolean> {
  const probe = createServer();
  return new Promise((resolve) => {
    probe.once('error', () => resolve(false));
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(true)));
  });
}

/** A port nothing listens on right now, from this worker's slice below the ephemeral range. */
export async function freePort(): Promise<number> {
  const start = sliceStart();
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = start + Math.floor(Math.random() * SLICE);
    if (handedOut.has(port)) continue;
    handedOut.add(port);
    if (await bindable(port)) return port;
  }
  // The slice is spent (a very long run): let the kernel pick one.
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** True when a launch failed only because its port was taken meanwhile: worth a try on other ports. */
export function portTaken(error: unknown): boolean {
  return error instanceof Error && /address already in use/i.test(error.message);
}
