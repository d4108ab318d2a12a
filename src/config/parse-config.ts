import type { z } from 'zod';
import { ConfigError } from '../errors.ts';
import { createConfigSchema, MailroomConfig } from './config-schema.ts';
import { applyEnvOverrides, readEnvOverrides, type ConfigIssue, type Env, type EnvOverride } from './env-overrides.ts';

/** Options of {@link parseConfig}. */
export interface ParseConfigOptions {
  /** Folder that relative paths are resolved against; default: the working directory. */
  readonly baseDir?: string;
  /** Environment overrides to apply (see `readEnvOverrides`); default: none. */
  readonly env?: Env;
  /** Where the input came from (a file path), for the error message. */
  readonly source?: string;
}

type Segment = PropertyKey;

/** `domains.0.privateKey`; keys that are not identifiers are quoted: `directory["a.example"]`. @internal */
export function formatPath(path: readonly Segment[]): string {
  if (path.length === 0) return '$';
  return path
    .map((segment, index) => {
      if (typeof segment === 'number') return index === 0 ? String(segment) : `.${segment}`;
      const key = String(segment);
      if (/^[A-Za-z_$][\w$]*$/.test(key)) return index === 0 ? key : `.${key}`;
      return `[${JSON.stringify(key)}]`;
    })
    .join('');
}

function describe(input: unknown): string {
  if (input === null) return 'null';
  if (Array.isArray(input)) return 'a list';
  if (typeof input === 'object') return 'a mapping';
  if (typeof input === 'string') return `"${input.length > 40 ? `${input.slice(0, 40)}...` : input}"`;
  return `${typeof input} ${String(input)}`;
}

const EXPECTED: Record<string, string> = { object: 'a mapping (key: value)', array: 'a list', string: 'a string', number: 'a number', boolean: 'true or false' };

/** Messages for zod's own issues, in the words of a config file. */
const errorMap: z.core.$ZodErrorMap = (issue) => {
  if (issue.code !== 'invalid_type') return undefined;
  if (issue.input === undefined) return 'required';
  return `expected ${EXPECTED[issue.expected] ?? issue.expected}, got ${describe(issue.input)}`;
};

function flatten(issue: z.core.$ZodIssue, prefix: readonly Segment[]): { path: Segment[]; message: string }[] {
  const path = [...prefix, ...issue.path];
  switch (issue.code) {
    case 'unrecognized_keys': {
      const lines = issue.message.split('\n');
      return issue.keys.map((key, index) => ({ path: [...path, key], message: lines[index] ?? 'unknown key' }));
    }
    case 'invalid_key':
      return issue.issues.flatMap((inner) => flatten(inner, path));
    case 'invalid_union': {
      // The one branch whose type matched says more than "none of the branches matched".
      const matched = issue.errors.filter((branch) => !branch.every((inner) => inner.code === 'invalid_type' && inner.path.length === 0));
      if (matched.length === 1 && matched[0]) return matched[0].flatMap((inner) => flatten(inner, path));
      return [{ path, message: issue.message }];
    }
    default:
      return [{ path, message: issue.message }];
  }
}

/**
 * Every zod issue as a `{ path, message }`, one per unknown key; a value that came from
 * the environment is reported under the variable's name. @internal
 */
export function toConfigIssues(issues: readonly z.core.$ZodIssue[], overrides: readonly EnvOverride[] = []): ConfigIssue[] {
  return issues
    .flatMap((issue) => flatten(issue, []))
    .map(({ path, message }) => {
      const dotted = formatPath(path);
      const override = overrides.find((o) => `${o.section}.${o.key}` === dotted);
      return override ? { path: override.variable, message: `${message} (overrides ${dotted})` } : { path: dotted, message };
    });
}

/** A `ConfigError` whose message lists every issue, one a line. @internal */
export function configError(issues: readonly ConfigIssue[], source?: string, cause?: unknown): ConfigError {
  const where = source === undefined ? 'invalid configuration' : `invalid configuration in ${source}`;
  const count = issues.length === 1 ? '1 problem' : `${issues.length} problems`;
  const lines = issues.map((issue) => `  ${issue.path}: ${issue.message}`).join('\n');
  return new ConfigError(`${where}: ${count}\n${lines}`, issues, cause === undefined ? undefined : { cause });
}

/** A copy of `value` without the object keys whose value is `null`: in YAML, `key:` with nothing after it means "use the default". */
function dropNulls(value: unknown): unknown {
  if (Array.isArray(value)) return value.map((item) => (item === null ? item : dropNulls(item)));
  if (typeof value !== 'object' || value === null) return value;
  return Object.fromEntries(
    Object.entries(value)
      .filter(([, v]) => v !== null)
      .map(([k, v]) => [k, dropNulls(v)]),
  );
}

/**
 * Validates a configuration object (as read from `mailroom.yaml`) and returns it with
 * defaults applied, durations in milliseconds and paths absolute. A key with an empty
 * (`null`) value counts as absent. Environment overrides are applied only when `env` is
 * given (pass `process.env` to honour them; `loadConfig` does).
 *
 * @example
 * const config = parseConfig({ domains: [{ name: 'orders.example', selector: 'pw1', privateKey: './keys/orders.pem' }] }, { baseDir: '/etc/mailroom' });
 * config.domains[0]?.privateKey; // '/etc/mailroom/keys/orders.pem'
 * config.delivery.ackWaitMs;     // 30000
 * @throws ConfigError listing every problem with its dotted path (`domains.0.privateKey: required`)
 */
export function parseConfig(input: unknown, options: ParseConfigOptions = {}): MailroomConfig {
  const env = readEnvOverrides(options.env ?? {});
  const data = applyEnvOverrides(dropNulls(input ?? {}), env.overrides);
  const schema = options.baseDir === undefined ? MailroomConfig : createConfigSchema(options.baseDir);
  const result = schema.safeParse(data, { error: errorMap });
  const issues = [...env.issues, ...(result.success ? [] : toConfigIssues(result.error.issues, env.overrides))];
  if (!result.success || issues.length > 0) throw configError(issues, options.source);
  return result.data;
}
