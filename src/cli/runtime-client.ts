import { addConfigOptions, loadConfigWithFlags, runtimeUrl, type ConfigFlags } from './config-option.ts';
import { CliUsageError } from './io.ts';
import type { Command } from 'commander';

/** Flags of a command that talks to a running runtime over HTTP. */
export interface RuntimeFlags extends ConfigFlags {
  url?: string;
}

export function addRuntimeOptions(command: Command): Command {
  return addConfigOptions(command).option('--url <url>', "the runtime's HTTP base URL (default: from the config)");
}

/** The runtime's base URL: `--url`, else the config's HTTP address. */
export async function baseUrlOf(flags: RuntimeFlags): Promise<string> {
  return flags.url ?? runtimeUrl(await loadConfigWithFlags(flags));
}

/** Calls the runtime; a connection failure is a CliUsageError that says how to start it. */
export async function callRuntime(base: string, method: string, path: string, json?: unknown): Promise<{ status: number; body: unknown }> {
  let res: Response;
  try {
    res = await fetch(`${base}${path}`, json === undefined ? { method } : { method, headers: { 'content-type': 'application/json' }, body: JSON.stringify(json) });
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
  return { status: res.status, body };
}

/** Prints a runtime answer as indented JSON; a non-2xx answer sets exit code 1. */
export function printAnswer(answer: { status: number; body: unknown }): void {
  process.stdout.write(`${typeof answer.body === 'string' ? answer.body : JSON.stringify(answer.body, null, 2)}\n`);
  if (answer.status < 200 || answer.status >= 300) process.exitCode = 1;
}
