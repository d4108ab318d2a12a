import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { parsePrivateKey } from '../keys/public-key.ts';
import type { EnvelopeStatus } from '../runtime/status-store.ts';
import { addConfigOptions, loadConfigWithFlags, runtimeUrl, type ConfigFlags } from './config-option.ts';
import { CliUsageError, literalOrFile } from './io.ts';
import { parseBodyArgument } from './sign-command.ts';

interface SendFlags extends ConfigFlags {
  from: string;
  to: string;
  subject: string;
  body: string;
  inbox?: string;
  wait?: boolean;
  timeout: string;
}

async function getStatus(base: string, from: string, correlation: string): Promise<EnvelopeStatus | undefined> {
  const res = await fetch(`${base}/envelopes/${encodeURIComponent(from)}/${encodeURIComponent(correlation)}`);
  if (res.status === 404) return undefined;
  if (!res.ok) throw new CliUsageError(`status request failed: ${res.status} ${await res.text()}`);
  return (await res.json()) as EnvelopeStatus;
}

async function waitForFinal(base: string, from: string, correlation: string, deadline: number): Promise<EnvelopeStatus | undefined> {
  let last: EnvelopeStatus | undefined;
  while (Date.now() < deadline) {
    last = await getStatus(base, from, correlation);
    if (last?.final) return last;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return last;
}

function printStatus(label: string, status: EnvelopeStatus): void {
  process.stdout.write(`${label}: ${status.state}${status.discard ? ` (${status.discard.reason}: ${status.discard.detail})` : ''}\n`);
  process.stdout.write(`  history: ${status.history.map((h) => h.state).join(' → ')}\n`);
  if (status.body !== undefined) process.stdout.write(`  body: ${JSON.stringify(status.body)}\n`);
}

/** `mailroom send`: signs an envelope as a domain of the config and posts it to an inbox. */
export function registerSendCommand(program: Command): void {
  addConfigOptions(program.command('send').description('sign an envelope as one of the config\'s domains and POST it to an inbox'))
    .requiredOption('--from <domain>', 'the sending domain (must be in the config, for its private key)')
    .requiredOption('--to <domain>', 'the receiving domain')
    .requiredOption('--subject <subject>', 'the subject, e.g. Hello@Host')
    .option('--body <json|@file>', 'the body: a JSON object or string, or @file', '{}')
    .option('--inbox <url>', 'the inbox to POST to (default: this config\'s runtime, /inbox)')
    .option('--wait', 'wait until the envelope is final and, if it was answered, for the reply')
    .option('--timeout <seconds>', 'with --wait: how long to wait', '15')
    .addHelpText('after', `\nExample:\n  mailroom send -c examples/quickstart/mailroom.yaml --from orders.example --to shop.example \\\n    --subject Hello@Host --body '{"text":"hi"}' --wait\n`)
    .action(async (flags: SendFlags) => {
      const config = await loadConfigWithFlags(flags);
      const domain = config.domains.find((d) => d.name === flags.from);
      if (!domain) throw new CliUsageError(`${flags.from} is not a domain of this config`, `domains here: ${config.domains.map((d) => d.name).join(', ') || '(none)'}`);
      const { encodeEnvelope, signEnvelope } = await import('../envelope/index.ts');
      const key = parsePrivateKey(await readFile(domain.privateKey, 'utf8'));
      const body = parseBodyArgument(await literalOrFile(flags.body, 'body file'));
      const envelope = signEnvelope({ From: domain.name, Selector: domain.selector, To: flags.to, Subject: flags.subject, Body: body as never }, key);
      const base = runtimeUrl(config);
      const inbox = flags.inbox ?? `${base}/inbox`;
      let res: Response;
      try {
        res = await fetch(inbox, { method: 'POST', headers: { 'content-type': 'application/json' }, body: encodeEnvelope(envelope) });
      } catch (cause) {
        throw new CliUsageError(`cannot reach the inbox at ${inbox}: ${cause instanceof Error ? cause.message : String(cause)}`, 'is the runtime running? start it with: mailroom start -c <config>');
      }
      const answer = await res.text();
      process.stdout.write(`${res.status} ${answer}\n`);
      if (res.status !== 202) {
        process.exitCode = 1;
        return;
      }
      if (!flags.wait) return;
      const deadline = Date.now() + Number(flags.timeout) * 1000;
      const { Correlation } = envelope.Header;
      const request = await waitForFinal(base, domain.name, Correlation, deadline);
      if (!request?.final) {
        process.stdout.write(`not final within ${flags.timeout}s (last state: ${request?.state ?? 'unknown'})\n`);
        process.exitCode = 1;
        return;
      }
      printStatus('request', request);
      if (request.replyCorrelation) {
        const reply = await waitForFinal(base, flags.to, request.replyCorrelation, deadline);
        if (reply) printStatus('reply', reply);
      }
      if (request.discard) process.exitCode = 1;
    });
}
