/** Dead letters: listed, shown, replayed through a fresh actor with the same correlation, purged; over HTTP and the CLI. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { startNatsServer, type NatsServerHandle } from '../support/nats-server.ts';
import { makeFixture } from '../support/runtime-fixture.ts';
import { waitFor } from '../support/wait-for.ts';
import { startMailroom } from '../../src/mailroom/start-mailroom.ts';
import type { Mailroom } from '../../src/core/mailroom-types.ts';
import { RetryableError } from '../../src/runtime/handlers.ts';
import type { EnvelopeStatus } from '../../src/runtime/status-store.ts';
import type { DeadLetter } from '../../src/runtime/dead-letter-store.ts';

const bin = fileURLToPath(new URL('../../bin/mailroom.js', import.meta.url));
const cli = (args: string[]) =>
  new Promise<{ code: number; stdout: string; stderr: string }>((resolve) =>
    execFile(process.execPath, [bin, ...args], (error, stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr })),
  );

let server: NatsServerHandle;
let mailroom: Mailroom;
let healthy = false;
const settled: EnvelopeStatus[] = [];

beforeAll(async () => {
  server = await startNatsServer();
  const fixture = await makeFixture({
    natsUrl: server.url,
    local: ['shop.example'],
    remote: ['orders.example'],
    extra: { delivery: { maxAttempts: 2, retry: { initialDelay: 20, maxDelay: 50 } } },
  });
  mailroom = await startMailroom(fixture.config, {
    handlers: {
      'shop.example': {
        'Pay@Shop': () => {
          if (!healthy) throw new RetryableError('the payment service is down', 10);
          return { paid: true };
        },
      },
    },
    outboxWorker: false,
    onError: () => undefined,
  });
  mailroom.events.on('settled', (status) => settled.push(status));
  const orders = fixture.domains['orders.example']!;
  for (let n = 0; n < 2; n++) {
    const res = await mailroom.accept(orders.signed({ To: 'shop.example', Subject: 'Pay@Shop', Body: { n } }));
    expect(res.kind).toBe('accepted');
  }
  await waitFor(async () => (await mailroom.stats()).deadLetters === 2, { what: 'two dead letters' });
});
afterAll(async () => {
  await mailroom?.stop();
  await server?.stop();
});

describe('dead letters', () => {
  it('are listed with their reason, last state, attempts and history', async () => {
    const res = await fetch(`${mailroom.url}/dead-letters`);
    const { deadLetters } = (await res.json()) as { deadLetters: DeadLetter[] };
    expect(deadLetters).toHaveLength(2);
    for (const letter of deadLetters) {
      expect(letter).toMatchObject({ reason: 'max-attempts', lastState: 'handling', attempts: 2, envelope: { from: 'orders.example', to: 'shop.example', subject: 'Pay@Shop' } });
      expect(letter.history.map((h) => h.state)).toEqual(['received', 'queued', 'validating', 'handling', 'deadLettering']);
    }
    const list = await cli(['dlq', 'list', '--url', mailroom.url!]);
    expect(list.code).toBe(0);
    expect(list.stdout.trim().split('\n')).toHaveLength(2);
    expect(list.stdout).toContain('max-attempts');
    const show = await cli(['dlq', 'show', String(deadLetters[0]!.id), '--json', '--url', mailroom.url!]);
    expect(show.code).toBe(0);
    expect(JSON.parse(show.stdout).envelopeText).toContain('"Subject":"Pay@Shop"');
    expect((await fetch(`${mailroom.url}/dead-letters/99999`)).status).toBe(404);
    expect((await fetch(`${mailroom.url}/dead-letters/nope`)).status).toBe(400);
  });

  it('replays through a fresh actor, keeping the correlation; then the dead letter is gone', async () => {
    const { deadLetters } = (await (await fetch(`${mailroom.url}/dead-letters`)).json()) as { deadLetters: DeadLetter[] };
    const letter = deadLetters[0]!;
    healthy = true;
    const replay = await cli(['dlq', 'replay', String(letter.id), '--url', mailroom.url!]);
    expect(replay.code).toBe(0);
    const status = await waitFor(() => settled.find((s) => s.correlation === letter.envelope.correlation && s.state === 'replied'), { what: 'the replayed envelope replied' });
    expect(status.attempt).toBe(1);
    // Replayed over HTTP from loopback without a token configured: the status names who.
    expect(status.history.find((step) => step.state === 'replayed')).toMatchObject({ by: 'loopback' });
    expect((await mailroom.stats()).deadLetters).toBe(1);
    expect(await mailroom.deadLetters.get(letter.id)).toBeUndefined();
  });

  it('purges one, or all', async () => {
    expect((await cli(['dlq', 'purge', '--url', mailroom.url!])).code).toBe(2);
    // Without a terminal and without --force, a destructive command refuses and deletes nothing.
    const refused = await cli(['dlq', 'purge', '--all', '--url', mailroom.url!]);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain('--force');
    expect((await mailroom.stats()).deadLetters).toBe(1);
    const purge = await cli(['dlq', 'purge', '--all', '--force', '--json', '--url', mailroom.url!]);
    expect(purge.code).toBe(0);
    expect(JSON.parse(purge.stdout)).toEqual({ purged: 1 });
    expect((await mailroom.stats()).deadLetters).toBe(0);
  });
});
