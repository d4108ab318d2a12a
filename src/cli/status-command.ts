import type { Command } from 'commander';
import { addConfigOptions, loadConfigWithFlags, runtimeUrl, type ConfigFlags } from './config-option.ts';
import { CliUsageError } from './io.ts';

/** `mailroom status FROM CORRELATION`: the state and history of one envelope. */
export function registerStatusCommand(program: Command): void {
  addConfigOptions(program.command('status').description('show the state, history and outcome of one envelope'))
    .argument('<from>', 'the sender of the envelope')
    .argument('<correlation>', 'its correlation ID')
    .option('--url <url>', 'the runtime\'s HTTP base URL (default: from the config)')
    .action(async (from: string, correlation: string, flags: ConfigFlags & { url?: string }) => {
      const base = flags.url ?? runtimeUrl(await loadConfigWithFlags(flags));
      let res: Response;
      try {
        res = await fetch(`${base}/envelopes/${encodeURIComponent(from)}/${encodeURIComponent(correlation)}`);
      } catch (cause) {
        throw new CliUsageError(`cannot reach the runtime at ${base}: ${cause instanceof Error ? cause.message : String(cause)}`);
      }
      const text = await res.text();
      process.stdout.write(`${res.ok ? JSON.stringify(JSON.parse(text), null, 2) : text}\n`);
      if (!res.ok) process.exitCode = 1;
    });
}
