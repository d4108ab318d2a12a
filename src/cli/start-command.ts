import { Option, type Command } from 'commander';
import { EventEmitter } from 'node:events';
import { addConfigOptions, loadConfigWithFlags, type ConfigFlags } from './config-option.ts';
import { CliUsageError } from './io.ts';

interface StartFlags extends ConfigFlags {
  quiet?: boolean;
  logFormat?: 'json' | 'pretty';
  json?: boolean;
  logLevel?: string;
  inspect?: boolean;
  inspectPort?: string;
  inspectHost?: string;
  inspectFilter?: string;
  cryptoPool?: boolean;
  ingress?: 'worker' | 'inline';
  forceProvision?: boolean;
}

/** How much lower than the ingress thread `mailroom start` runs envelope processing (a nice increment; see `processingNice`). */
const PROCESSING_NICE = 10;

function portOf(raw: string): number {
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new CliUsageError(`--inspect-port takes a port number (0 for any free one), not ${JSON.stringify(raw)}`);
  return port;
}

/** `mailroom start`: runs the runtime until Ctrl-C (SIGINT) or SIGTERM, then shuts down cleanly. */
export function registerStartCommand(program: Command): void {
  addConfigOptions(
    program
      .command('start')
      .description('start the runtime: NATS (embedded unless --nats or NATS_URL), the inbox, one XState actor per envelope, the outbox, the dashboard and /metrics'),
  )
    .option('--quiet', 'print only errors')
    .addOption(new Option('--log-format <format>', 'envelope logs as JSON lines or readable lines (default: pretty on a terminal, else json)').choices(['json', 'pretty']))
    .option('--json', 'the same as --log-format json: the banner and the logs as JSON lines')
    .addOption(new Option('--log-level <level>', 'debug shows every state an envelope enters').choices(['debug', 'info', 'warn', 'error']).default('info'))
    .option('--inspect', 'stream XState inspection events over WebSocket for Stately Inspector (open /inspect)')
    .option('--inspect-port <port>', 'the inspector WebSocket port (default 8081; 0 = any free port)')
    .option('--inspect-host <host>', 'the address the inspector listens on (default 127.0.0.1)')
    .option('--inspect-filter <filter>', 'inspect only matching envelopes: domain=D,subject=S,correlation=C (repeat a key for either; * is a wildcard)')
    .option('--crypto-pool', 'verify and sign on worker threads, one per core, even on one core (default: crypto.workers, else auto: one per core on two or more)')
    .option('--no-crypto-pool', 'verify and sign on the event loop (crypto.workers 0)')
    .addOption(
      new Option('--ingress <mode>', 'where POST /inbox runs: worker (its own thread and NATS connection: processing never delays the answer) or inline (on the runtime thread)')
        .choices(['worker', 'inline'])
        .default('worker'),
    )
    .option('--nats-creds <file>', 'a NATS .creds file (user JWT + seed) for --nats / nats.url (default: $MAILROOM_NATS_CREDS or nats.auth)')
    .option('--nats-replicas <n>', 'replicas of every stream and KV bucket: 1, 3 or 5 (default: $MAILROOM_NATS_REPLICAS or nats.replicas, 1)')
    .option('--force-provision', 'also lower replicas and move placement an operator changed on existing streams (normally left as they are, with a warning)')
    .addHelpText(
      'after',
      '\nExamples:\n  mailroom start --config examples/quickstart/mailroom.yaml\n  mailroom start --nats nats://n1:4222,nats://n2:4222,nats://n3:4222 --nats-replicas 3 --nats-creds ./mailroom.creds\n  NATS_URL=nats://127.0.0.1:4222 mailroom start --log-format json\n  mailroom start --inspect --inspect-filter subject=Hello@Host   # then open http://127.0.0.1:8080/inspect\n',
    )
    .action(async (flags: StartFlags) => {
      const { createLogger, defaultLogFormat } = await import('../observability/logger.ts');
      const { parseInspectionFilter } = await import('../observability/inspection-filter.ts');
      const loaded = await loadConfigWithFlags(flags);
      const { cryptoWorkerCount } = await import('../runtime/crypto-pool.ts');
      const { availableParallelism } = await import('node:os');
      // Signatures on worker threads unless told otherwise: the flag, else crypto.workers, else auto.
      const cryptoSetting = flags.cryptoPool === true ? 'the --crypto-pool flag' : flags.cryptoPool === false ? 'the --no-crypto-pool flag' : `crypto.workers ${loaded.crypto.workers ?? 'auto'}`;
      const workers = flags.cryptoPool === true ? availableParallelism() : flags.cryptoPool === false ? 0 : cryptoWorkerCount(loaded.crypto.workers ?? 'auto');
      const withCrypto = { ...loaded, crypto: { workers } };
      const config = flags.forceProvision ? { ...withCrypto, nats: { ...withCrypto.nats, forceProvision: true } } : withCrypto;
      const format = flags.logFormat ?? (flags.json ? 'json' : defaultLogFormat());
      const logger = createLogger({ format, level: flags.quiet ? 'error' : ((flags.logLevel ?? 'info') as 'info') });
      const filter = flags.inspectFilter !== undefined ? parseInspectionFilter(flags.inspectFilter) : undefined;
      if (!flags.inspect && (flags.inspectPort !== undefined || flags.inspectHost !== undefined || filter)) throw new CliUsageError('--inspect-port, --inspect-host and --inspect-filter need --inspect');
      // The banner: plain lines on a terminal, log records when the output is JSON.
      const say = (line: string) => {
        if (flags.quiet) return;
        if (format === 'pretty') process.stdout.write(`${line}\n`);
        else logger.info(line);
      };
      const { redactUrl } = await import('../transport/connect.ts');
      const { auth, tls, replicas } = config.nats;
      const way = auth ? ` as ${auth.creds ? `creds ${auth.creds}` : auth.nkey ? `nkey ${auth.nkey}` : auth.token ? 'a token' : `user ${auth.user ?? '?'}`}` : '';
      say(config.nats.url ? `connecting to NATS at ${redactUrl(config.nats.url)}${way}${tls ? ' over TLS' : ''}` : `starting an embedded nats-server (store ${config.nats.embedded.storeDir})`);
      const { startMailroom } = await import('../mailroom/start-mailroom.ts');
      const { startObservability } = await import('../observability/observability.ts');
      const observability = await startObservability({
        events: new EventEmitter(),
        logger,
        ...(flags.inspect
          ? {
              inspector: {
                ...(flags.inspectPort !== undefined ? { port: portOf(flags.inspectPort) } : {}),
                ...(flags.inspectHost !== undefined ? { host: flags.inspectHost } : {}),
                ...(filter ? { filter } : {}),
                // The /inspect page is served from the runtime's own URL: its origin may connect.
                ...(config.http.publicUrl ? { allowedOrigins: [config.http.publicUrl] } : {}),
              },
            }
          : {}),
      });
      const { createAccessLog } = await import('../http/access-log.ts');
      // One info line per HTTP request (method, route, status, duration; trace_id with a traceparent).
      const accessLog = createAccessLog(logger);
      let mailroom;
      try {
        mailroom = await startMailroom(config, {
          ...observability.mailroomOptions,
          httpPlugins: [...(observability.mailroomOptions.httpPlugins ?? []), accessLog.plugin],
          ingress: flags.ingress ?? 'worker',
          // This process is the runtime's own: when the cores are busy, the inbox's thread goes first.
          ...((flags.ingress ?? 'worker') === 'worker' ? { processingNice: PROCESSING_NICE } : {}),
          // One line per admin action, kept whatever --quiet says (at warn when refused).
          onAudit: (entry) => {
            const line = `audit: ${entry.action} by ${entry.who} from ${entry.peer}: ${entry.outcome} (${entry.status})`;
            if (entry.outcome === 'denied') logger.warn({ audit: true, ...entry }, line);
            else logger.info({ audit: true, ...entry }, line);
          },
        });
      } catch (error) {
        accessLog.stop();
        await observability.stop();
        throw error;
      }
      observability.attach(mailroom);
      say(`NATS:      ${redactUrl(mailroom.natsUrl)} (streams and buckets: ${replicas} replica${replicas === 1 ? '' : 's'}${config.nats.forceProvision ? ', forced' : ''})`);
      const admin = mailroom.adminUrl ?? mailroom.url;
      const guard = config.http.adminTokens.length > 0 ? `${config.http.adminTokens.length} admin token(s)` : 'no admin token: loopback peers only';
      const ingress = flags.ingress === 'inline' ? 'on the runtime thread (--ingress inline)' : 'on its own thread';
      const shed = config.inbox.maxPending !== undefined ? `; 503 past ${config.inbox.maxPending} unprocessed` : '';
      say(`inbox:     POST ${mailroom.url}/inbox (public, ${ingress}${shed}; the 202 carries a capability status URL)`);
      say(`admin:     ${admin} (${guard})`);
      say(`status:    GET  ${admin}/envelopes/{from}/{correlation}`);
      say(`workflows: GET  ${admin}/workflows (?status=&name=&state=), ${admin}/workflows/{id}`);
      say(`dashboard: ${admin}/`);
      say(`metrics:   GET  ${config.http.metrics === 'public' ? mailroom.url : admin}/metrics${config.http.metrics === 'public' ? ' (public)' : ''}`);
      if (config.http.sendAs.length) say(`sendAs:    POST ${admin}/conversations may sign as ${config.http.sendAs.join(', ')}`);
      say(`crypto:    verify and sign ${workers > 0 ? `on ${workers} worker thread${workers === 1 ? '' : 's'}` : 'on the event loop'} (${cryptoSetting})`);
      if (observability.inspector) {
        const scope = filter ? ` (only ${flags.inspectFilter})` : '';
        say(`inspect:   ${observability.inspector.url}${scope}; open ${mailroom.url}/inspect to see it in Stately Inspector`);
      }
      for (const domain of config.domains) say(`domain:    ${domain.name} (selector ${domain.selector})`);
      for (const workflow of mailroom.workflows.registered()) say(`workflow:  ${workflow.name} (version ${workflow.version})`);
      if (config.domains.length === 0) say('no domains configured: every envelope will be discarded as not-addressed-to-us');
      say('ready; Ctrl-C to stop');
      await new Promise<void>((resolve) => {
        const shutdown = (signal: string) => {
          say(`${format === 'pretty' ? '\n' : ''}${signal}: finishing the envelopes in flight, then stopping`);
          resolve();
        };
        process.once('SIGINT', () => shutdown('SIGINT'));
        process.once('SIGTERM', () => shutdown('SIGTERM'));
      });
      await mailroom.stop();
      accessLog.stop();
      await observability.stop();
      say('stopped; nothing accepted was lost (unfinished envelopes stay in JetStream for the next start)');
    });
}
