/**
 * Conversations (issue 4): start N conversations that wait for replies, then answer all of
 * them, and report the rate at which the replies complete them (each reply: an envelope
 * actor with verify, then the conversation rehydrated from KV, advanced, written back with a
 * revision check, and announced). The resident memory with 100,000 waiting is
 * `bench/memory.ts` (a runtime alone in a child process).
 *
 *   npx tsx bench/conversations.ts [--quick] [--json]
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { EventEmitter } from 'node:events';
import { spawnNatsServer } from '../src/transport/spawn-nats-server.ts';
import { generateDomainKeys, parsePrivateKey } from '../src/keys/index.ts';
import { encodeEnvelope, signEnvelope } from '../src/envelope/index.ts';
import { parseConfig } from '../src/config/index.ts';
import { startMailroom } from '../src/mailroom/start-mailroom.ts';
import type { MailroomEvents } from '../src/core/mailroom-types.ts';
import type { ConversationOutcome } from '../machines/conversation.machine.ts';
import { Cleanup, windowed, isMain, makeTempDir, progress, removeTempDir, runAsScript, type BenchOptions, type BenchResult } from './support.ts';

export async function run(options: BenchOptions): Promise<BenchResult> {
  const count = options.quick ? 2_000 : 20_000;
  const scope = new Cleanup();
  try {
    const dir = await makeTempDir('conversations');
    scope.defer(() => removeTempDir(dir));
    const server = await spawnNatsServer({ args: ['-js', '-sd', join(dir, 'nats'), '-a', '127.0.0.1', '-p', '-1'], readyTimeoutMs: 30_000 });
    scope.defer(() => server.stop());
    const ours = generateDomainKeys('orders.example', 'pw1');
    const partner = generateDomainKeys('partner.example', 'pw1');
    await writeFile(join(dir, 'orders.pem'), ours.privateKeyPem);
    const config = parseConfig(
      {
        nats: { url: server.url, prefix: 'conv' },
        domains: [{ name: 'orders.example', selector: 'pw1', privateKey: join(dir, 'orders.pem') }],
        keys: { trusted: [{ domain: 'partner.example', selector: 'pw1', key: partner.dnsTxt }] },
        delivery: { concurrency: 256 },
      },
      { baseDir: dir, env: {} },
    );
    const events = new EventEmitter<MailroomEvents>();
    // The outbox worker is off: the requests stay in the outbox, nothing answers but the bench.
    const mailroom = await startMailroom(config, { http: false, outboxWorker: false, events, onError: () => undefined });
    scope.defer(() => mailroom.stop());

    const outcomes: Promise<ConversationOutcome>[] = [];
    const correlations: string[] = [];
    const startedAt = performance.now();
    await windowed(
      count,
      async (i) => {
        const { correlation, outcome } = await mailroom.startConversation({ from: 'orders.example', to: 'partner.example', subject: 'Quote@Partner', body: { i }, timeoutMs: 60 * 60_000 });
        correlations[i] = correlation;
        outcomes[i] = outcome;
      },
      (done) => progress(options, `conversations: ${done} of ${count} started`),
    );
    const startSeconds = (performance.now() - startedAt) / 1000;

    // The replies, signed by the partner, offered to the inbox as fast as it takes them.
    const key = parsePrivateKey(partner.privateKeyPem);
    const replies = correlations.map((correlation) =>
      encodeEnvelope(signEnvelope({ From: 'partner.example', Selector: 'pw1', To: 'orders.example', Subject: 'Reply@Quote@Partner', Correlation: correlation, Body: { price: 42 } }, key)),
    );
    const repliedAt = performance.now();
    await windowed(count, (i) => mailroom.accept(replies[i]!), (done) => progress(options, `conversations: ${done} of ${count} replies accepted`));
    const results = await Promise.all(outcomes);
    const replySeconds = (performance.now() - repliedAt) / 1000;
    const replied = results.filter((r) => r.state === 'replied').length;
    if (replied !== count) throw new Error(`only ${replied} of ${count} conversations were replied`);
    return {
      name: `conversations: ${count.toLocaleString('en-US')} started, then all answered`,
      results: {
        'conversations started per second': count / startSeconds,
        'replies completing conversations per second': count / replySeconds,
      },
      notes: [
        `one runtime process, nats-server ${server.version}; starting one = KV create + durable timer + signed request to the outbox; completing one = inbox publish, envelope actor with Ed25519 verify, KV read and revision-checked update, announcement`,
        'resident memory while 100,000 wait: bench/memory.ts',
      ],
      summary: [
        { figure: `conversations: started (KV + durable timer + signed request), ${count.toLocaleString('en-US')}`, value: count / startSeconds, unit: '/s' },
        { figure: 'conversations: completed by their replies', value: count / replySeconds, unit: '/s' },
      ],
    };
  } finally {
    await scope.run();
  }
}

if (isMain(import.meta.url)) await runAsScript(run);
