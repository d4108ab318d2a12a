import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { CliUsageError } from './io.ts';

/** A saved runtime to talk to, like a `nats context`: its admin URL and token. */
export interface CliContext {
  readonly url: string;
  readonly token?: string;
  readonly description?: string;
}

/** `contexts.json`: every saved context by name, and the one in use. */
export interface ContextFile {
  readonly current?: string;
  readonly contexts: Readonly<Record<string, CliContext>>;
}

/** `$XDG_CONFIG_HOME/mailroom`, else `~/.config/mailroom`. */
export function contextDir(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_CONFIG_HOME && env.XDG_CONFIG_HOME.trim() !== '' ? env.XDG_CONFIG_HOME : join(homedir(), '.config');
  return join(base, 'mailroom');
}

export const contextFilePath = (env: NodeJS.ProcessEnv = process.env): string => join(contextDir(env), 'contexts.json');

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

export function checkContextName(name: string): string {
  if (!NAME.test(name)) throw new CliUsageError(`a context name is letters, digits, '.', '_' and '-' (up to 63), not ${JSON.stringify(name)}`);
  return name;
}

/** The saved contexts (none yet: an empty file). */
export async function readContexts(env: NodeJS.ProcessEnv = process.env): Promise<ContextFile> {
  const path = contextFilePath(env);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === 'ENOENT') return { contexts: {} };
    throw new CliUsageError(`cannot read the contexts file ${path} (${(cause as NodeJS.ErrnoException).code ?? String(cause)})`);
  }
  try {
    const parsed = JSON.parse(text) as ContextFile;
    if (typeof parsed !== 'object' || parsed === null || typeof parsed.contexts !== 'object' || parsed.contexts === null) throw new Error('no "contexts" object');
    return parsed;
  } catch (cause) {
    throw new CliUsageError(`the contexts file ${path} is not valid: ${cause instanceof Error ? cause.message : String(cause)}`, 'fix it, or delete it and add the contexts again (mailroom context add)');
  }
}

/** Writes the contexts file with mode 0600 (it holds admin tokens), in a 0700 folder, atomically. */
export async function writeContexts(file: ContextFile, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const dir = contextDir(env);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const path = contextFilePath(env);
  const temporary = `${path}.${process.pid}.tmp`;
  await writeFile(temporary, `${JSON.stringify(file, null, 2)}\n`, { mode: 0o600 });
  await chmod(temporary, 0o600);
  await rename(temporary, path);
  return path;
}

/** The context a client command uses: `--context`, else `$MAILROOM_CONTEXT`, else the current one (if any). */
export async function chosenContext(name: string | undefined, env: NodeJS.ProcessEnv = process.env): Promise<{ name: string; context: CliContext } | undefined> {
  const wanted = name ?? (env.MAILROOM_CONTEXT?.trim() || undefined);
  const file = await readContexts(env);
  const pick = wanted ?? file.current;
  if (pick === undefined) return undefined;
  const context = file.contexts[pick];
  if (!context) {
    const known = Object.keys(file.contexts);
    throw new CliUsageError(`no context named ${JSON.stringify(pick)}`, known.length ? `saved contexts: ${known.join(', ')} (mailroom context ls)` : 'add one: mailroom context add NAME --url URL --token TOKEN');
  }
  return { name: pick, context };
}

/** A token shown without giving it away: its first 4 characters. */
export const maskToken = (token: string | undefined): string => (token ? `${token.slice(0, 4)}… (${token.length} characters)` : '(none: loopback only)');
