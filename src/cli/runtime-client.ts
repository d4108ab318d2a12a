import { Option, type Command } from 'commander';
import { loadConfigWithFlags, runtimeAdminUrl, type ConfigFlags } from './config-option.ts';
import { chosenContext } from './contexts.ts';
import { AdminTokenError, CliUsageError } from './io.ts';
import { jsonText, out, parseAnswer, printJson } from './output.ts';

/** Flags of a command that talks to a running runtime over HTTP. */
export interface RuntimeFlags extends ConfigFlags {
  url?: string;
  token?: string;
  context?: string;
  json?: boolean;
}

/** Where and how to reach a runtime's admin routes. */
export interface RuntimeConnection {
  readonly base: string;
  readonly token?: string;
}

/**
 * The options of a client command: where the runtime is (`--context`, `--url`, or `-c` for
 * the config it runs), the token, and `--json`. The runtime-only options (`--nats`, `--port`)
 * are accepted for older scripts but not shown.
 */
export function addRuntimeOptions(command: Command): Command {
  return addTokenOption(
    command
      .option('--context <name>', 'a saved runtime (mailroom context add); default: $MAILROOM_CONTEXT, else the current context')
      .option('--url <url>', "the runtime's admin base URL (default: the context's, else from the config: http.admin, else http)")
      .option('-c, --config <file>', "read the runtime's URL and token from its config file (default without a context: $MAILROOM_CONFIG or ./mailroom.yaml)")
      .addOption(new Option('--nats <url>').hideHelp())
      .addOption(new Option('--port <port>').hideHelp()),
  ).option('--json', 'print JSON (default: readable lines)');
}

/** `--token`: the admin bearer token. */
export function addTokenOption(command: Command): Command {
  return command.option('--token <token>', "the admin token (default: $MAILROOM_ADMIN_TOKEN, else the context's, else the config's first http.adminTokens)");
}

/** The first token of `MAILROOM_ADMIN_TOKEN` (comma-separated), if set. */
export const envToken = (): string | undefined =>
  process.env.MAILROOM_ADMIN_TOKEN?.split(',')
    .map((token) => token.trim())
    .find((token) => token !== '');

/**
 * The admin base URL and token. The URL: `--url`, else `--context`, else the config named by
 * `-c` or `$MAILROOM_CONFIG`, else `$MAILROOM_CONTEXT` or the current context, else
 * `./mailroom.yaml`. The token: `--token`, else `MAILROOM_ADMIN_TOKEN`, else the context's or
 * the config's first `http.adminTokens` (none: the runtime answers admin routes only to
 * loopback peers).
 */
export async function connectionOf(flags: RuntimeFlags): Promise<RuntimeConnection> {
  const token = flags.token ?? envToken();
  const withToken = (base: string, fallback?: string): RuntimeConnection => {
    const chosen = token ?? fallback;
    return { base: base.replace(/\/+$/, ''), ...(chosen ? { token: chosen } : {}) };
  };
  if (flags.url !== undefined) return withToken(flags.url);
  const configNamed = flags.config !== undefined || (process.env.MAILROOM_CONFIG ?? '') !== '';
  if (flags.context !== undefined || !configNamed) {
    const context = await chosenContext(flags.context);
    if (context) return withToken(context.context.url, context.context.token);
  }
  const config = await loadConfigWithFlags(flags);
  return withToken(runtimeAdminUrl(config), config.http.adminTokens[0]);
}

/** The headers of an admin request: the bearer token, when there is one. */
export const authHeaders = (connection: RuntimeConnection): Record<string, string> => (connection.token ? { authorization: `Bearer ${connection.token}` } : {});

/** A runtime's answer: the status, the body (numbers a double cannot hold kept as written) and its text. */
export interface RuntimeAnswer {
  readonly status: number;
  readonly body: unknown;
  readonly text: string;
}

/**
 * Calls the runtime; a connection failure is a CliUsageError that says how to start it, a 401
 * an {@link AdminTokenError} (exit code 1).
 */
export async function callRuntime(connection: RuntimeConnection, method: string, path: string, json?: unknown): Promise<RuntimeAnswer> {
  const { base } = connection;
  let res: Response;
  try {
    res = await fetch(`${base}${path}`, {
      method,
      headers: { ...authHeaders(connection), ...(json === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(json === undefined ? {} : { body: jsonText(json) }),
    });
  } catch (cause) {
    throw new CliUsageError(
      `cannot reach the runtime at ${base}: ${cause instanceof Error ? cause.message : String(cause)}`,
      'is it running? start it with: mailroom start -c <config>; or point at it: --url URL, --context NAME (mailroom context ls)',
    );
  }
  const text = await res.text();
  let body: unknown = text;
  try {
    body = parseAnswer(text);
  } catch (_) {
    // not JSON: keep the text
  }
  if (res.status === 401) throw new AdminTokenError((body as { detail?: string } | undefined)?.detail);
  return { status: res.status, body, text };
}

/** An error answer (an RFC 9457 problem, or text) as one line; sets exit code 1. */
export function printProblem(answer: { status: number; body: unknown }): void {
  const problem = answer.body as { title?: string; error?: string; detail?: string } | string;
  const detail = typeof problem === 'string' ? problem : (problem?.detail ?? problem?.title ?? problem?.error ?? jsonText(problem));
  process.stderr.write(`error: the runtime answered ${answer.status}: ${detail}\n`);
  process.exitCode = 1;
}

/**
 * Prints a runtime answer: with `--json` (or without a readable form) as indented JSON, else
 * through `human`; a non-2xx answer sets exit code 1.
 */
export function printAnswer(answer: { status: number; body: unknown }, flags: { json?: boolean } = { json: true }, human?: (body: never) => void): void {
  const ok = answer.status >= 200 && answer.status < 300;
  if (flags.json || !human) {
    if (typeof answer.body === 'string') out(`${answer.body}\n`);
    else printJson(answer.body);
    if (!ok) process.exitCode = 1;
    return;
  }
  if (!ok) return printProblem(answer);
  human(answer.body as never);
}
