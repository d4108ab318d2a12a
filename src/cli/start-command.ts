import type { Command } from 'commander';
import { addConfigOptions, loadConfigWithFlags, type ConfigFlags } from './config-option.ts';

/** `mailroom start`: runs the runtime until Ctrl-C (SIGINT) or SIGTERM, then shuts down cleanly. */
export function registerStartCommand(program: Command): void {
  addConfigOptions(
    program
      .command('start')
      .description('start the runtime: NATS (embedded unless --nats or NATS_URL), the inbox, one XState actor per envelope, the outbox'),
  )
    .option('--quiet', 'print only errors')
    .addHelpText('after', '\nExamples:\n  mailroom start --config examples/quickstart/mailroom.yaml\n  NATS_URL=nats://127.0.0.1:4222 mailroom start\n')
    .action(async (flags: ConfigFlags & { quiet?: boolean }) => {
      const config = await loadConfigWithFlags(flags);
      const say = (line: string) => {
        if (!flags.quiet) process.stdout.write(`${line}\n`);
      };
      say(config.nats.url ? `connecting to NATS at ${config.nats.url}` : `starting an embedded nats-server (store ${config.nats.embedded.storeDir})`);
      const { startMailroom } = await import('../runtime/mailroom.ts');
      const mailroom = await startMailroom(config);
      say(`NATS:   ${mailroom.natsUrl}`);
      say(`inbox:  POST ${mailroom.url}/inbox`);
      say(`status: GET  ${mailroom.url}/envelopes/{from}/{correlation}`);
      for (const domain of config.domains) say(`domain: ${domain.name} (selector ${domain.selector})`);
      if (config.domains.length === 0) say('no domains configured: every envelope will be discarded as not-addressed-to-us');
      mailroom.events.on('settled', (status) => {
        const why = status.discard ? ` (${status.discard.reason}: ${status.discard.detail})` : '';
        say(`${status.state.padEnd(12)} ${status.from} → ${status.to} ${status.subject} ${status.correlation}${why}`);
      });
      say('ready; Ctrl-C to stop');
      await new Promise<void>((resolve) => {
        const shutdown = (signal: string) => {
          say(`\n${signal}: finishing the envelopes in flight, then stopping`);
          resolve();
        };
        process.once('SIGINT', () => shutdown('SIGINT'));
        process.once('SIGTERM', () => shutdown('SIGTERM'));
      });
      await mailroom.stop();
      say('stopped; nothing accepted was lost (unfinished envelopes stay in JetStream for the next start)');
    });
}
