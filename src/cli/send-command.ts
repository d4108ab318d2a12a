import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { parsePrivateKey } from '../keys/public-key.ts';
import type { EnvelopeStatus } from '../runtime/status-store.ts';
import { addConfigOptions, loadConfigWithFlags, runtimeAdminUrl, runtimeUrl, type ConfigFlags } from './config-option.ts';
import { AdminTokenError, CliUsageError, literalOrFile } from './io.ts';
import { addTokenOption, authHeaders, envToken, type RuntimeConnection } from './runtime-client.ts';
import { canonicalOption, parseBodyArgument } from './sign-command.ts';

interface SendFlags extends ConfigFlags {
  from: string;
  to: string;
  subject: string;
  body: string;
  inbox?: string;
  wait?: boolean;
  timeout: string;
  token?: string;
  canonical?: 'jcs' | 'python';
}

async function getJson<T>(url: string, connection: RuntimeConnection): Promise<T | undefined> {
  const res = await fetch(url, { headers: authHeaders(connection) });
  if (res.status === 404) return undefined;
  if (res.status === 401) throw new AdminTokenError(((await res.json().catch(() => ({}))) as { detail?: string }).detail);
  if (!res.ok) throw new CliUsageError(`${url} answered ${res.status}: ${await res.text()}`);
  return (await res.json()) as T;
}

interface ConversationView {
  state: string;
  status: 'active' | 'done';
  output?: { state: string; reply?: { subject: string; body: unknown }; reason?: string };
}

/** `--wait`: the runtime sends the request as a conversation; follow it until it is done. */
async function converse(connection: RuntimeConnection, flags: SendFlags, body: unknown): Promise<void> {
  const { base } = connection;
  const timeoutMs = Number(flags.timeout) * 1000;
  const res = await fetch(`${base}/conversations`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...authHeaders(connection) },
    body: JSON.stringify({ from: flags.from, to: flags.to, subject: flags.subject, body, timeoutMs }),
  }).catch((cause: unknown) => {
    throw new CliUsageError(`cannot reach the runtime at ${base}: ${cause instanceof Error ? cause.message : String(cause)}`, 'is it running? start it with: mailroom start -c <config>');
  });
  const answer = (await res.json()) as { correlation?: string; status?: string; detail?: string; error?: string };
  if (res.status === 401) throw new AdminTokenError(answer.detail);
  process.stdout.write(`${res.status} ${JSON.stringify(answer)}\n`);
  if (res.status !== 202 || !answer.status || !answer.correlation) {
    process.exitCode = 1;
    return;
  }
  // The conversation ends by itself at its (durable) timeout; allow a little more for the last poll.
  const deadline = Date.now() + timeoutMs + 2_000;
  let view: ConversationView | undefined;
  while (Date.now() < deadline) {
    view = await getJson<ConversationView>(answer.status, connection);
    if (view?.status === 'done') break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const request = await getJson<EnvelopeStatus>(`${base}/envelopes/${encodeURIComponent(flags.from)}/${encodeURIComponent(answer.correlation)}`, connection).catch(() => undefined);
  if (request) process.stdout.write(`request: ${request.state}\n  history: ${request.history.map((h) => h.state).join(' → ')}\n`);
  const output = view?.output;
  if (!output) {
    process.stdout.write(`conversation: ${view?.state ?? 'unknown'} (not done within the wait)\n`);
    process.exitCode = 1;
    return;
  }
  process.stdout.write(`conversation: ${output.state}${output.reason ? ` (${output.reason})` : ''}\n`);
  if (output.reply) process.stdout.write(`  reply: ${output.reply.subject} ${JSON.stringify(output.reply.body)}\n`);
  if (output.state !== 'replied') process.exitCode = 1;
}

/** `mailroom send`: signs an envelope as a domain of the config and posts it to an inbox. */
export function registerSendCommand(program: Command): void {
  addTokenOption(addConfigOptions(program.command('send').description('sign an envelope as one of the config\'s domains and POST it to an inbox')))
    .requiredOption('--from <domain>', 'the sending domain (must be in the config, for its private key)')
    .requiredOption('--to <domain>', 'the receiving domain')
    .requiredOption('--subject <subject>', 'the subject, e.g. Hello@Host')
    .option('--body <json|@file>', 'the body: a JSON object or string, or @file', '{}')
    .option('--inbox <url>', 'the inbox to POST to (default: this config\'s runtime, /inbox)')
    .option('--wait', 'send it as a request through the runtime (a conversation: an admin route, --from must be in http.sendAs) and wait for the reply, the feedback or the timeout')
    .option('--timeout <seconds>', 'with --wait: the conversation timeout', '15')
    .addOption(canonicalOption().conflicts('wait'))
    .addHelpText('after', `\nExample:\n  mailroom send -c examples/quickstart/mailroom.yaml --from orders.example --to shop.example \\\n    --subject Hello@Host --body '{"text":"hi"}' --wait\n`)
    .action(async (flags: SendFlags) => {
      const config = await loadConfigWithFlags(flags);
      const base = runtimeUrl(config);
      const body = parseBodyArgument(await literalOrFile(flags.body, 'body file'));
      if (flags.wait) {
        const token = flags.token ?? envToken() ?? config.http.adminTokens[0];
        // The runtime signs the request itself, with the form the directory gives for --to.
        return converse({ base: runtimeAdminUrl(config), ...(token ? { token } : {}) }, flags, body.plain());
      }
      const domain = config.domains.find((d) => d.name === flags.from);
      if (!domain) throw new CliUsageError(`${flags.from} is not a domain of this config`, `domains here: ${config.domains.map((d) => d.name).join(', ') || '(none)'}`);
      const { encodeEnvelope, signEnvelope } = await import('../envelope/index.ts');
      const key = parsePrivateKey(await readFile(domain.privateKey, 'utf8'));
      const canonical = flags.canonical ?? config.peers[flags.to.toLowerCase()]?.canonical ?? 'jcs';
      const envelope = signEnvelope({ From: domain.name, Selector: domain.selector, To: flags.to, Subject: flags.subject, Body: body }, key, { canonical });
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
    });
}
