import { open } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { parseDocument } from 'yaml';
import { ConfigError } from '../errors.ts';
import type { MailroomConfig } from './config-schema.ts';
import { CONFIG_PATH_VARIABLE, envValue, type ConfigIssue, type Env } from './env-overrides.ts';
import { configError, parseConfig } from './parse-config.ts';

/** The largest config file read: 1 MiB. */
export const MAX_CONFIG_BYTES = 1024 * 1024;
/** The most YAML alias expansions allowed (a "billion laughs" guard). */
export const MAX_CONFIG_ALIASES = 100;
/** The file read when neither a path nor `MAILROOM_CONFIG` is given, in the working directory. */
export const DEFAULT_CONFIG_FILE = 'mailroom.yaml';

/** Options of {@link loadConfig}. */
export interface LoadConfigOptions {
  /** Environment for overrides and `MAILROOM_CONFIG`; default: `process.env`. */
  readonly env?: Env;
}

function fileError(file: string, message: string, cause?: unknown): ConfigError {
  return configError([{ path: '$', message }], file, cause);
}

/** The file's text, or `undefined` when it does not exist and `required` is false. */
async function readBounded(file: string, required: boolean): Promise<string | undefined> {
  let handle;
  try {
    handle = await open(file, 'r');
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' && !required) return undefined;
    throw fileError(file, code === 'ENOENT' ? 'file not found' : `cannot read the file (${code ?? String(cause)})`, cause);
  }
  try {
    const stats = await handle.stat();
    if (!stats.isFile()) throw fileError(file, 'not a regular file');
    const tooLarge = `larger than the ${MAX_CONFIG_BYTES} bytes (1 MiB) a config file may have`;
    if (stats.size > MAX_CONFIG_BYTES) throw fileError(file, tooLarge);
    // Read one byte past the limit, in case the file grew since stat().
    const buffer = Buffer.alloc(MAX_CONFIG_BYTES + 1);
    let length = 0;
    for (;;) {
      const { bytesRead } = await handle.read(buffer, length, buffer.length - length, null);
      if (bytesRead === 0) break;
      length += bytesRead;
      if (length > MAX_CONFIG_BYTES) throw fileError(file, tooLarge);
    }
    try {
      return new TextDecoder('utf-8', { fatal: true }).decode(buffer.subarray(0, length));
    } catch (cause) {
      throw fileError(file, 'not UTF-8 text', cause);
    }
  } catch (error) {
    if (error instanceof ConfigError) throw error;
    throw fileError(file, `cannot read the file (${(error as NodeJS.ErrnoException).code ?? String(error)})`, error);
  } finally {
    await handle.close();
  }
}

/**
 * Parses YAML text into plain data. Duplicate keys, several documents, unknown tags and
 * more than {@link MAX_CONFIG_ALIASES} alias expansions are errors.
 * @throws ConfigError with the line and column of each syntax error
 */
export function parseConfigYaml(text: string, source = 'mailroom.yaml'): unknown {
  const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: true });
  const problems = [...doc.errors, ...doc.warnings];
  if (problems.length > 0) {
    const issues: ConfigIssue[] = problems.map((problem) => {
      const at = problem.linePos?.[0];
      const message = problem.message.split('\n')[0]?.replace(/ at line \d+, column \d+:?$/, '') ?? problem.message;
      return { path: '$', message: at ? `line ${at.line}, column ${at.col}: ${message}` : message };
    });
    throw configError(issues, source, problems[0]);
  }
  try {
    return doc.toJS({ maxAliasCount: MAX_CONFIG_ALIASES });
  } catch (cause) {
    const message = cause instanceof Error ? cause.message : String(cause);
    throw configError([{ path: '$', message: `cannot read the YAML: ${message}` }], source, cause);
  }
}

/**
 * Loads `mailroom.yaml`: reads the file (at most 1 MiB), parses the YAML, applies the
 * environment overrides (see `readEnvOverrides` for the table) and validates it with
 * {@link parseConfig}, relative paths resolving against the file's folder.
 *
 * The file is `path`, else `$MAILROOM_CONFIG`, else `mailroom.yaml` in the working
 * directory. When that default file does not exist the defaults are returned (a runtime
 * hosting no domains); a file named by `path` or `MAILROOM_CONFIG` must exist.
 *
 * @example
 * const config = await loadConfig();                        // ./mailroom.yaml or defaults
 * const other = await loadConfig('/etc/mailroom/prod.yaml', { env: {} }); // no env overrides
 * @throws ConfigError naming the file, a YAML error's line and column, or every invalid field
 */
export async function loadConfig(path?: string, options: LoadConfigOptions = {}): Promise<MailroomConfig> {
  const env = options.env ?? process.env;
  const fromEnv = path === undefined ? envValue(env, CONFIG_PATH_VARIABLE) : undefined;
  const given = path ?? fromEnv;
  const file = resolve(given ?? DEFAULT_CONFIG_FILE);
  let text: string | undefined;
  try {
    text = await readBounded(file, given !== undefined);
  } catch (error) {
    if (fromEnv === undefined || !(error instanceof ConfigError)) throw error;
    const message = `${file}: ${error.issues[0]?.message ?? error.message}`;
    throw configError([{ path: CONFIG_PATH_VARIABLE, message }], file, error);
  }
  if (text === undefined) return parseConfig({}, { env });
  return parseConfig(parseConfigYaml(text, file), { baseDir: dirname(file), env, source: file });
}
