import { addConfigOptions, loadConfigWithFlags, runtimeAdminUrl, type ConfigFlags } from './config-option.ts';
import { AdminTokenError, CliUsageError } from './io.ts';
import type { Command } from 'commander';

/** Flags of a command that talks to a running runtime over HTTP. */
export interface RuntimeFlags extends ConfigFlags {
  url?: string;
  token?: string;
}

/** Where and how to reach a runtime's admin routes. */
export interface RuntimeConnection {
  readonly base: string;
  readonly token?: string;
}

export function addRuntimeOptions(command: Command): Command {
  return addTokenOption(addConfigOptions(command).option('--url <url>', "the runtime's HTTP base URL for admin routes (default: from the config: http.admin, else http)"));
}

/** `--token`: the admin bearer token. */
export function addTokenOption(command: Command): Command {
  return command.option('--token <token>', "the admin token (default: $MAILROOM_ADMIN_TOKEN, else the config's first http.adminTokens)");
}

/** The first token of `MAILROOM_ADMIN_TOKEN` (comma-separated), if set. */
export const envToken = (): string | undefined =>
  process.env.MAILROOM_ADMIN_TOKEN?.split(',')
    .map((token) => token.trim())
    .find((token) => token !== '');

/**
 * The admin base URL (`--url`, else the config's admin listener or HTTP address) and the token:
 * `--token`, else `MAILROOM_ADMIN_TOKEN`, else the config's first `http.adminTokens` (none:
 * the runtime answers admin routes only to loopback peers).
 */
export async function connectionOf(flags: RuntimeFlags): Promise<RuntimeConnection> {
  const token = flags.token ?? envToken();
  if (flags.url !== undefined) return { base: flags.url, ...(token ? { token } : {}) };
  const config = await loadConfigWithFlags(flags);
  const chosen = token ?? config.http.adminTokens[0];
  return { base: runtimeAdminUrl(config), ...(chosen ? { token: chosen } : {}) };
}

/** The headers of an admin request: the bearer token, when there is one. */
export const authHeaders = (connection: RuntimeConnection): Record<string, string> => (connection.token ? { authorization: `Bearer ${connection.token}` } : {});

/**
 * Calls the runtime; a connection failure is a CliUsageError that says how to start it, a 401
 * an {@link AdminTokenError} (exit code 1).
 */
export async function callRuntime(connection: RuntimeConnection, method: string, path: string, json?: unknown): Promise<{ status: number; body: unknown }> {
  const { base } = connection;
  let res: Response;
  try {
    res = await fetch(`${base}${path}`, {
      method,
      headers: { ...authHeaders(connection), ...(json === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(json === undefined ? {} : { body: JSON.stringify(json) }),
    });
  } catch (cause) {
    throw new CliUsageError(`cannot reach the runtime at ${base}: ${cause instanceof Error ? cause.message : String(cause)}`, 'is it running? start it with: mailroom start -c <config>');
  }
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch (_) {
    // not JSON: keep the text
  }
  if (res.status === 401) throw new AdminTokenError((body as { detail?: string } | undefined)?.detail);
  return { status: res.status, body };
}

/** Prints a runtime answer as indented JSON; a non-2xx answer sets exit code 1. */
export function printAnswer(answer: { status: number; body: unknown }): void {
  process.stdout.write(`${typeof answer.body === 'string' ? answer.body : JSON.stringify(answer.body, null, 2)}\n`);
  if (answer.status < 200 || answer.status >= 300) process.exitCode = 1;
}
