/**
 * The inbox consumer takes what the CPU can finish (issue 13): a stalled event loop lowers the
 * limit, a quiet one raises it back; the consume loop never runs more than the limit at once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jetstream, jetstreamManager, AckPolicy } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { startNatsServer, type NatsServerHandle } from '../support/nats-server.ts';
import { waitFor } from '../support/wait-for.ts';
import { connectNats } from '../../src/transport/connect.ts';
import { startLoadLimit } from '../../src/runtime/load-limit.ts';
import { startConsumeLoop } from '../../src/runtime/consume-loop.ts';

let server: NatsServerHandle;
let nc: NatsConnection;
beforeAll(async () => {
  server = await startNatsServer();
  nc = await connectNats({ url: server.url, name: 'load-limit-test' });
});
afterAll(async () => {
  await nc?.close();
  await server?.stop();
});

describe('startLoadLimit', () => {
  it('lowers the limit after the thread stalled, and raises it back to the maximum once it runs freely', async () => {
    const load = startLoadLimit(64, 4);
    try {
      expect(load.current()).toBe(64);
      // The thread stops (asleep, as when the cores are busy elsewhere): its timers come late.
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 300);
      await waitFor(() => load.current() < 64, { what: 'the limit lowered' });
      await waitFor(() => load.current() === 64, { what: 'the limit back at its maximum' });
    } finally {
      load.stop();
    }
  });
});

describe('startConsumeLoop with a limit', () => {
  it('never runs more messages at once than the limit says, below its concurrency; the rest wait in the stream', async () => {
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: 'LIMITED', subjects: ['limited.>'] });
    await jsm.consumers.add('LIMITED', { durable_name: 'limited', ack_policy: AckPolicy.Explicit });
    const js = jetstream(nc);
    for (let i = 0; i < 12; i++) await js.publish(`limited.${i}`, new Uint8Array([i]));
    let limit = 1;
    let running = 0;
    let most = 0;
    const releases: (() => void)[] = [];
    let done = 0;
    const loop = await startConsumeLoop(
      await js.consumers.get('LIMITED', 'limited'),
      8,
      async (msg) => {
        running++;
        most = Math.max(most, running);
        await new Promise<void>((resolve) => releases.push(resolve));
        running--;
        done++;
        msg.ack();
      },
      () => undefined,
      { limit: () => limit },
    );
    try {
      await waitFor(() => releases.length === 1, { what: 'the first message at work' });
      for (let i = 0; i < 4; i++) {
        releases.shift()!();
        await waitFor(() => releases.length === 1, { what: 'the next message at work' });
      }
      expect(most).toBe(1);
      limit = 3;
      releases.shift()!();
      await waitFor(() => releases.length === 3, { what: 'three at work' });
      while (done < 12) {
        releases.splice(0).forEach((release) => release());
        await new Promise((resolve) => setImmediate(resolve));
      }
      expect(most).toBe(3);
    } finally {
      releases.splice(0).forEach((release) => release());
      await loop.stop();
    }
  });
});
