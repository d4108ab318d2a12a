/**
 * The test harness's ports: picked below Linux's ephemeral range, so no outgoing connection can
 * take one between the pick and the bind (a 3-node cluster in CI once failed on exactly that), and
 * a killed server gets its port back on restart.
 */
import { describe, expect, it } from 'vitest';
import { createServer } from 'node:net';
import { readFileSync } from 'node:fs';
import { freePort, portTaken } from '../support/processes.ts';
import { startNatsServer } from '../support/nats-server.ts';
import { NatsServerError } from '../../src/errors.ts';

function ephemeralFloor(): number {
  try {
    return Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
  } catch {
    return 32_768;
  }
}

describe('freePort', () => {
  it('hands out bindable ports below the ephemeral range, never the same one twice', async () => {
    const ports: number[] = [];
    for (let i = 0; i < 40; i++) ports.push(await freePort());
    expect(new Set(ports).size).toBe(ports.length);
    for (const port of ports) {
      expect(port).toBeGreaterThanOrEqual(20_000);
      expect(port).toBeLessThan(Math.min(32_000, ephemeralFloor()));
    }
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(ports[0], '127.0.0.1', resolve));
    await new Promise((resolve) => server.close(resolve));
  });

  it('names a launch that lost its port, and only that', () => {
    expect(portTaken(new NatsServerError('nats-server exited before it was ready (code 1)\n [FTL] Error listening on port: 127.0.0.1:45401, "listen tcp 127.0.0.1:45401: bind: address already in use"'))).toBe(true);
    expect(portTaken(new NatsServerError('nats-server exited before it was ready (code 1)\n [FTL] bad config'))).toBe(false);
    expect(portTaken('address already in use')).toBe(false);
  });

  it('gives a restarted nats-server its port back after a kill', async () => {
    const server = await startNatsServer();
    try {
      expect(server.port).toBeLessThan(ephemeralFloor());
      const before = server.port;
      await server.kill();
      await server.restart();
      expect(server.port).toBe(before);
      expect(server.log().some((line) => line.includes(`:${before}`))).toBe(true);
    } finally {
      await server.stop();
    }
  });
});
