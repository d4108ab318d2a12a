import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { parsePrivateKey } from '../keys/public-key.ts';
import type { EnvelopeStatus } from '../runtime/status-store.ts';
import { addConfigOptions, loadConfigWithFlags, runtimeUrl, type ConfigFlags } from './config-option.ts';
import { AdminTokenError, CliUsageError, literalOrFile } from './io.ts';
import { addTokenOption, authHeaders, connectionOf, type RuntimeConnection } from './runtime-client.ts';
import { canonicalOption, parseBodyArgument } from './sign-command.ts';
import { jsonText, out, parseAnswer, parseExact, printJson } from './output.ts';
import type { LosslessBody } from '../envelope/lossless-body.ts';

interface SendFlags extends ConfigFlags {
  context?: string;
  url?: string;
  from: string;
  to: string;
  subject: string;
  body: string;
  inbox?: string;
  wait?: boolean;
  timeout: string;
  token?: string;
  canonical?: 'jcs' | 'python';
  json?: boolean;
}

async function getAnswer(url: string, connection: RuntimeConnection): Promise<{ text: string; value: unknown } | undefined> {
  const res = await fetch(url, { headers: authHeaders(connection) });
  if (res.status === 404) return undefined;
  const text = await res.text();
  if (res.status === 401) throw new AdminTokenError((parseOr(text) as { detail?: string } | undefined)?.detail);
  if (!res.ok) throw new CliUsageError(`${url} answered ${res.status}: ${text}`);
  return { text, value: parseOr(text) };
}

function parseOr(text: string): unknown {
  try {
    return parseAnswer(text);
  } catch {
    return undefined;
  }
}

interface ConversationView {
  state: string;
  status: 'active' | 'done';
  output?: { state: string; reply?: { subject: string; body: unknown }; reason?: string };
}

/** What `send --wait` saw: how the request and the conversation ended. */
interface WaitOutcome {
  correlation: string;
  request?: EnvelopeStatus;
  conversation?: ConversationView;
  /** How it ended: replied, a dead letter, the conversation's own end, or still open when the wait ran out. */
  outcome: string;
}

/** The reply body exactly as the runtime holds it (every number token as written). */
function exactReply(text: string): unknown {
  const view = parseExact(text) as { output?: { reply?: { body?: unknown } } };
  return view.output?.reply?.body;
}

/** `--wait`: the runtime sends the request as a conversation; follow it until it is done, or the request is dead-lettered. */
async function converse(connection: RuntimeConnection, flags: SendFlags, body: LosslessBody): Promise<void> {
  const { base } = connection;
  const timeoutMs = Number(flags.timeout) * 1000;
  const res = await fetch(`${base}/conversations`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...authHeaders(connection) },
    body: `{"from":${JSON.stringify(flags.from)},"to":${JSON.stringify(flags.to)},"subject":${JSON.stringify(flags.subject)},"body":${body.text()},"timeoutMs":${timeoutMs}}`,
  }).catch((cause: unknown) => {
    throw new CliUsageError(`cannot reach the runtime at ${base}: ${cause instanceof Error ? cause.message : String(cause)}`, 'is it running? start it with: mailroom start -c <config>');
  });
  const text = await res.text();
  const answer = (parseOr(text) ?? {}) as { correlation?: string; status?: string; detail?: string; error?: string };
  if (res.status === 401) throw new AdminTokenError(answer.detail);
  if (!flags.json) out(`${res.status} ${text}\n`);
  if (res.status !== 202 || !answer.status || !answer.correlation) {
    if (flags.json) printJson({ status: res.status, answer });
    process.exitCode = 1;
    return;
  }
  const statusUrl = `${base}/envelopes/${encodeURIComponent(flags.from)}/${encodeURIComponent(answer.correlation)}`;
  // The conversation ends by itself at its (durable) timeout; allow a little more for the last poll.
  const deadline = Date.now() + timeoutMs + 2_000;
  let view: { text: string; value: ConversationView } | undefined;
  let request: EnvelopeStatus | undefined;
  while (Date.now() < deadline) {
    view = (await getAnswer(answer.status, connection)) as typeof view;
    if (view?.value.status === 'done') break;
    // A request dead-lettered at its receiver will not be answered: say so now, not at the timeout.
    request = (await getAnswer(statusUrl, connection).catch(() => undefined))?.value as EnvelopeStatus | undefined;
    if (request?.deadLetter) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  request = ((await getAnswer(statusUrl, connection).catch(() => undefined))?.value as EnvelopeStatus | undefined) ?? request;
  const output = view?.value.output;
  const outcome: WaitOutcome = {
    correlation: answer.correlation,
    ...(request ? { request } : {}),
    ...(view ? { conversation: view.value } : {}),
    outcome: request?.deadLetter && output?.state !== 'replied' ? 'deadLettered' : (output?.state ?? 'notDone'),
  };
  if (outcome.outcome !== 'replied') process.exitCode = 1;
  if (flags.json) {
    const reply = view ? exactReply(view.text) : undefined;
    return printJson({ ...outcome, ...(reply !== undefined ? { reply } : {}) });
  }
  if (request) out(`request: ${request.state}\n  history: ${request.history.map((h) => h.state).join(' → ')}\n`);
  if (outcome.outcome === 'deadLettered') {
    const dead = request!.deadLetter!;
    out(`request dead-lettered: ${dead.reason} in ${dead.lastState}${dead.lastReason ? ` (${dead.lastReason})` : ''}: ${dead.detail}\n`);
    out('  see it: mailroom dlq list; put it back once fixed: mailroom dlq replay <id>\n');
    return;
  }
  if (!output) {
    out(`conversation: ${view?.value.state ?? 'unknown'} (not done within the wait)\n`);
    return;
  }
  out(`conversation: ${output.state}${output.reason ? ` (${output.reason})` : ''}\n`);
  if (output.reply) out(`  reply: ${output.reply.subject} ${jsonText(exactReply(view!.text))}\n`);
}

/** `mailroom send`: signs an envelope as a domain of the config and posts it to an inbox. */
export function registerSendCommand(program: Command): void {
  addTokenOption(addConfigOptions(program.command('send').description('sign an envelope as one of the config\'s domains and POST it to an inbox'), { client: true }))
    .requiredOption('--from <domain>', 'the sending domain (must be in the config, for its private key)')
    .requiredOption('--to <domain>', 'the receiving domain')
    .requiredOption('--subject <subject>', 'the subject, e.g. Hello@Host')
    .option('--body <json|@file>', 'the body: a JSON object or string, or @file', '{}')
    .option('--inbox <url>', 'the inbox to POST to (default: this config\'s runtime, /inbox)')
    .option('--wait', 'send it as a request through the runtime (a conversation: an admin route, --from must be in http.sendAs) and wait for the reply, the feedback or the timeout')
    .option('--timeout <seconds>', 'with --wait: the conversation timeout', '15')
    .option('--context <name>', 'with --wait: a saved runtime (mailroom context add) instead of -c')
    .option('--url <url>', "with --wait: the runtime's admin base URL instead of -c")
    .addOption(canonicalOption().conflicts('wait'))
    .option('--json', 'print one JSON document: the answer, or with --wait the request, the conversation and the reply')
    .addHelpText('after', `\nExample:\n  mailroom send -c examples/quickstart/mailroom.yaml --from orders.example --to shop.example \\\n    --subject Hello@Host --body '{"text":"hi"}' --wait\n`)
    .action(async (flags: SendFlags) => {
      const body = parseBodyArgument(await literalOrFile(flags.body, 'body file'));
      if (flags.wait) {
        // The runtime signs the request itself, with the form the directory gives for --to: a context (or --url) is enough.
        return converse(await connectionOf(flags), flags, body);
      }
      if (flags.url !== undefined || flags.context !== undefined) throw new CliUsageError('--url and --context go with --wait (the runtime signs)', 'without --wait, mailroom send signs with a domain key from the config: -c FILE');
      const config = await loadConfigWithFlags(flags);
      const base = runtimeUrl(config);
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
      if (res.status !== 202) process.exitCode = 1;
      if (flags.json) return printJson({ status: res.status, correlation: envelope.Header.Correlation, answer: parseOr(answer) ?? answer });
      out(`${res.status} ${answer}\n`);
    });
}
