import { Option, type Command } from 'commander';
import type { MailroomConfig } from '../config/index.ts';

/** Options every command that reads `mailroom.yaml` takes. */
export interface ConfigFlags {
  config?: string;
  nats?: string;
  port?: string;
  /** `mailroom start` only: `--nats-creds`, `--nats-replicas`. */
  natsCreds?: string;
  natsReplicas?: string;
}

/**
 * `-c`, `--nats`, `--port`. A client command (`{ client: true }`) still takes `--nats` and
 * `--port` (older scripts pass them) but does not show them: they configure a runtime.
 */
export function addConfigOptions(command: Command, options: { client?: boolean } = {}): Command {
  const nats = new Option('--nats <url>', 'NATS server URL (default: $NATS_URL; none = start an embedded nats-server)');
  const port = new Option('--port <port>', 'HTTP port (default: $MAILROOM_HTTP_PORT or the config, 8080)');
  if (options.client) {
    nats.hideHelp();
    port.hideHelp();
  }
  return command.option('-c, --config <file>', 'the config file (default: $MAILROOM_CONFIG or ./mailroom.yaml)').addOption(nats).addOption(port);
}

/** Loads the config; flags win over the environment, which wins over the file. */
export async function loadConfigWithFlags(flags: ConfigFlags): Promise<MailroomConfig> {
  // Loaded on use, so that `--help` and the light commands start fast.
  const { loadConfig } = await import('../config/index.ts');
  const env = { ...process.env };
  if (flags.nats !== undefined) env.NATS_URL = flags.nats;
  if (flags.port !== undefined) env.MAILROOM_HTTP_PORT = flags.port;
  if (flags.natsCreds !== undefined) env.MAILROOM_NATS_CREDS = flags.natsCreds;
  if (flags.natsReplicas !== undefined) env.MAILROOM_NATS_REPLICAS = flags.natsReplicas;
  return loadConfig(flags.config, { env });
}

/** The runtime's own HTTP base URL, as a local client reaches it. */
export function runtimeUrl(config: MailroomConfig): string {
  if (config.http.publicUrl) return config.http.publicUrl;
  const host = config.http.host === '0.0.0.0' || config.http.host === '::' ? '127.0.0.1' : config.http.host;
  return `${config.http.tls ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${config.http.port}`;
}

/** Where a local client reaches the runtime's admin routes: the `http.admin` listener, else {@link runtimeUrl}. */
export function runtimeAdminUrl(config: MailroomConfig): string {
  const admin = config.http.admin;
  if (!admin) return runtimeUrl(config);
  const host = admin.host === '0.0.0.0' || admin.host === '::' ? '127.0.0.1' : admin.host;
  return `${config.http.tls ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${admin.port}`;
}
