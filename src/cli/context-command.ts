import type { Command } from 'commander';
import { loadConfigWithFlags, runtimeAdminUrl } from './config-option.ts';
import { confirmDestructive, type ForceFlags } from './confirm.ts';
import { checkContextName, contextFilePath, maskToken, readContexts, writeContexts, type CliContext } from './contexts.ts';
import { CliUsageError } from './io.ts';
import { out, printFields, printJson } from './output.ts';

interface AddFlags extends ForceFlags {
  url?: string;
  token?: string;
  fromConfig?: string;
  description?: string;
  use?: boolean;
  json?: boolean;
}

function checkUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new CliUsageError(`--url takes the runtime's admin base URL, e.g. http://127.0.0.1:8080, not ${JSON.stringify(raw)}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new CliUsageError(`--url must be http or https, not ${url.protocol}`);
  return raw.replace(/\/+$/, '');
}

const shown = (name: string, context: CliContext, current: boolean) => ({ name, current, url: context.url, token: maskToken(context.token), ...(context.description ? { description: context.description } : {}) });

/** `mailroom context add | ls | use | rm | show`: saved runtimes, so client commands need no `-c`, `--url` or `--token`. */
export function registerContextCommand(program: Command): void {
  const context = program
    .command('context')
    .description('save runtimes to talk to (URL + admin token), like `nats context`; client commands use the current one')
    .addHelpText(
      'after',
      `\nThe contexts live in $XDG_CONFIG_HOME/mailroom/contexts.json (default ~/.config/mailroom/), mode 0600.\nA command picks: --url, else --context NAME, else -c CONFIG, else $MAILROOM_CONTEXT, else the current context.\n\nExamples:\n  mailroom context add local --url http://127.0.0.1:8080 --use\n  mailroom context add prod --url https://admin.orders.example --token "$TOKEN"\n  mailroom context add quick --from-config examples/quickstart/mailroom.yaml\n  mailroom context use prod\n  mailroom dlq list            # against prod\n  mailroom dlq list --context local\n`,
    );
  context
    .command('add')
    .description('save a runtime under a name (replaces one of that name with --force)')
    .argument('<name>')
    .option('--url <url>', "the runtime's admin base URL, e.g. http://127.0.0.1:8080")
    .option('--token <token>', 'its admin token (default: $MAILROOM_ADMIN_TOKEN, else none: loopback only)')
    .option('--from-config <file>', "take the URL and token from a runtime's mailroom.yaml (http.admin or http, the first http.adminTokens)")
    .option('--description <text>', 'a note shown by context ls')
    .option('--use', 'make it the current context')
    .option('-f, --force', 'replace a context of this name')
    .option('--json', 'print the saved context as JSON')
    .action(async (name: string, flags: AddFlags) => {
      checkContextName(name);
      if ((flags.url === undefined) === (flags.fromConfig === undefined)) throw new CliUsageError('give exactly one of --url or --from-config');
      let url: string;
      let token = flags.token ?? (process.env.MAILROOM_ADMIN_TOKEN?.split(',')[0]?.trim() || undefined);
      if (flags.fromConfig !== undefined) {
        const config = await loadConfigWithFlags({ config: flags.fromConfig });
        url = runtimeAdminUrl(config);
        token ??= config.http.adminTokens[0];
      } else url = checkUrl(flags.url!);
      const file = await readContexts();
      if (file.contexts[name] && !flags.force) throw new CliUsageError(`a context named ${name} exists`, `replace it with --force, or remove it first: mailroom context rm ${name}`);
      const saved: CliContext = { url, ...(token ? { token } : {}), ...(flags.description ? { description: flags.description } : {}) };
      const current = flags.use || file.current === undefined ? name : file.current;
      const path = await writeContexts({ current, contexts: { ...file.contexts, [name]: saved } });
      if (flags.json) return printJson({ ...shown(name, saved, current === name), file: path });
      out(`saved context ${name}: ${url} (token ${maskToken(token)})${current === name ? ', now the current context' : ''}\n  in ${path}\n`);
    });
  context
    .command('ls')
    .alias('list')
    .description('the saved contexts; * marks the current one')
    .option('--json', 'print JSON')
    .action(async (flags: { json?: boolean }) => {
      const file = await readContexts();
      const list = Object.entries(file.contexts).map(([name, c]) => shown(name, c, name === file.current));
      if (flags.json) return printJson({ current: file.current ?? null, contexts: list });
      if (list.length === 0) return out('no contexts (add one: mailroom context add NAME --url URL)\n');
      const width = Math.max(...list.map((c) => c.name.length));
      for (const c of list) out(`${c.current ? '*' : ' '} ${c.name.padEnd(width)}  ${c.url}${c.description ? `  ${c.description}` : ''}\n`);
    });
  context
    .command('use')
    .description('make a saved context the current one')
    .argument('<name>')
    .option('--json', 'print JSON')
    .action(async (name: string, flags: { json?: boolean }) => {
      const file = await readContexts();
      if (!file.contexts[name]) throw new CliUsageError(`no context named ${JSON.stringify(name)}`, 'mailroom context ls lists them');
      await writeContexts({ ...file, current: name });
      if (flags.json) return printJson({ current: name });
      out(`current context: ${name} (${file.contexts[name].url})\n`);
    });
  context
    .command('rm')
    .alias('remove')
    .description('forget a saved context (asks first on a terminal)')
    .argument('<name>')
    .option('-f, --force', 'do not ask')
    .option('--json', 'print JSON')
    .action(async (name: string, flags: ForceFlags & { json?: boolean }) => {
      const file = await readContexts();
      if (!file.contexts[name]) throw new CliUsageError(`no context named ${JSON.stringify(name)}`, 'mailroom context ls lists them');
      await confirmDestructive(`Forget context ${name} (${file.contexts[name].url}) and its token?`, flags, `remove context ${name}`);
      const { [name]: _removed, ...rest } = file.contexts;
      await writeContexts({ ...(file.current !== undefined && file.current !== name ? { current: file.current } : {}), contexts: rest });
      if (flags.json) return printJson({ removed: name });
      out(`removed context ${name}${file.current === name ? ' (it was the current one: none is now)' : ''}\n`);
    });
  context
    .command('show')
    .description('one context (default: the current one), its token masked')
    .argument('[name]')
    .option('--json', 'print JSON')
    .action(async (name: string | undefined, flags: { json?: boolean }) => {
      const file = await readContexts();
      const pick = name ?? file.current;
      if (pick === undefined) throw new CliUsageError('no current context', 'add one: mailroom context add NAME --url URL --use');
      const found = file.contexts[pick];
      if (!found) throw new CliUsageError(`no context named ${JSON.stringify(pick)}`, 'mailroom context ls lists them');
      const view = { ...shown(pick, found, pick === file.current), file: contextFilePath() };
      if (flags.json) return printJson(view);
      printFields([
        ['context', `${pick}${view.current ? ' (current)' : ''}`],
        ['url', found.url],
        ['token', view.token],
        ['description', found.description],
        ['file', view.file],
      ]);
    });
}
