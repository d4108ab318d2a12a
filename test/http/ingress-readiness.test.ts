/**
 * `/readyz` with the ingress worker (`mailroom start`'s default): ready only when the worker
 * can store AND the runtime's server answers on the private socket — it starts after the
 * worker listens and stops before it, and in between `/readyz` must not say ready.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:http';
import type { NatsConnection } from '@nats-io/transport-node';
import { startNatsServer, type NatsServerHandle } from '../support/nats-server.ts';
import { startIngressWorker, type IngressWorker } from '../../src/http/ingress.ts';
import { socketListens } from '../../src/http/peer-forwarding.ts';
import { connectNats } from '../../src/transport/connect.ts';
import { createNames } from '../../src/transport/names.ts';
import { provision } from '../../src/transport/provision.ts';

let server: NatsServerHandle;
let nc: NatsConnection;
let worker: IngressWorker | undefined;

beforeAll(async () => {
  server = await startNatsServer();
  nc = await connectNats({ url: server.url, name: 'ingress-readiness-test' });
});
afterAll(async () => {
  await worker?.stop();
  await nc?.close();
  await server?.stop();
});

const listen = (path: string) =>
  new Promise<Server>((resolve, reject) => {
    const s = createServer((_req, res) => res.end('{}'));
    s.once('error', reject);
    s.listen(path, () => resolve(s));
  });
const close = (s: Server) => new Promise<void>((resolve) => s.close(() => resolve()));

describe('/readyz in worker-ingress mode', () => {
  it('is 503 until the runtime’s server listens on the private socket, 200 while it does, 503 once it has closed', async () => {
    const prefix = 'readyz';
    await provision(nc, createNames(prefix), { inbox: { maxDeliver: 5, ackWaitMs: 30_000, duplicateWindowMs: 120_000 }, replayWindowMs: 600_000 });
    const errors: string[] = [];
    worker = await startIngressWorker(
      {
        natsUrl: server.url,
        prefix,
        http: { host: '127.0.0.1', port: 0, maxBodyBytes: 64 * 1024, readTimeoutMs: 10_000 },
        statusSecret: new Uint8Array(32).fill(7),
        inbox: { retryAfterMs: 1_000 },
        publishTimeoutMs: 2_000,
      },
      (error) => errors.push(String(error)),
    );
    const readyz = async () => {
      const res = await fetch(`${worker!.url}/readyz`);
      return { status: res.status, body: (await res.json()) as { status: string; detail: string } };
    };

    // The worker listens and its NATS and inbox stream answer; the runtime's server does not exist yet.
    expect(await socketListens(worker.forward.path)).toBe(false);
    const starting = await readyz();
    expect(starting.status).toBe(503);
    expect(starting.body.detail).toMatch(/runtime's HTTP server does not answer/);
    // The same state again: nothing changed, still not ready (no race to win).
    expect((await readyz()).status).toBe(503);

    const runtimeServer = await listen(worker.forward.path);
    const up = await readyz();
    expect(up.status).toBe(200);
    expect(up.body.detail).toMatch(/inbox stream answer/);

    await close(runtimeServer);
    expect((await readyz()).status).toBe(503);
    expect(errors).toEqual([]);
  }, 60_000);
});
