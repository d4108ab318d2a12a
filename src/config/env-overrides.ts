/** Environment variables, as `process.env` holds them. */
export type Env = Readonly<Record<string, string | undefined>>;

/** One problem in the configuration: a dotted path (or a variable name) and what is wrong. */
export interface ConfigIssue {
  readonly path: string;
  readonly message: string;
}

/** A value taken from the environment, and the config path it replaces. @internal */
export interface EnvOverride {
  readonly variable: string;
  readonly section: 'nats' | 'http' | 'crypto';
  /** A key of the section, or `group.key` one level down (`auth.creds`). */
  readonly key: string;
  readonly value: unknown;
  /** A list value adds to the file's list instead of replacing it. */
  readonly append?: boolean;
}

/** The variables read, most specific first: the first one set wins. @internal */
const SOURCES = [
  { variables: ['MAILROOM_NATS_URL', 'NATS_URL'], section: 'nats', key: 'url', kind: 'text' },
  { variables: ['MAILROOM_NATS_REPLICAS'], section: 'nats', key: 'replicas', kind: 'number' },
  { variables: ['MAILROOM_NATS_CREDS'], section: 'nats', key: 'auth.creds', kind: 'text' },
  { variables: ['MAILROOM_NATS_NKEY'], section: 'nats', key: 'auth.nkey', kind: 'text' },
  { variables: ['MAILROOM_NATS_TOKEN'], section: 'nats', key: 'auth.token', kind: 'text' },
  { variables: ['MAILROOM_NATS_USER'], section: 'nats', key: 'auth.user', kind: 'text' },
  { variables: ['MAILROOM_NATS_PASSWORD'], section: 'nats', key: 'auth.password', kind: 'text' },
  { variables: ['MAILROOM_NATS_TLS_CA'], section: 'nats', key: 'tls.ca', kind: 'text' },
  { variables: ['MAILROOM_NATS_TLS_CERT'], section: 'nats', key: 'tls.cert', kind: 'text' },
  { variables: ['MAILROOM_NATS_TLS_KEY'], section: 'nats', key: 'tls.key', kind: 'text' },
  { variables: ['MAILROOM_HTTP_HOST'], section: 'http', key: 'host', kind: 'text' },
  { variables: ['MAILROOM_HTTP_PORT', 'PORT'], section: 'http', key: 'port', kind: 'port' },
  { variables: ['MAILROOM_PUBLIC_URL'], section: 'http', key: 'publicUrl', kind: 'text' },
  { variables: ['MAILROOM_ADMIN_TOKEN'], section: 'http', key: 'adminTokens', kind: 'list' },
  { variables: ['MAILROOM_STATUS_SECRET'], section: 'http', key: 'statusSecret', kind: 'text' },
  { variables: ['MAILROOM_CRYPTO_WORKERS'], section: 'crypto', key: 'workers', kind: 'autoOrNumber' },
] as const;

/** The variable that names the config file for `loadConfig` when no path is given. */
export const CONFIG_PATH_VARIABLE = 'MAILROOM_CONFIG';

/** The value of `name`, with an empty or blank value counted as unset. @internal */
export function envValue(env: Env, name: string): string | undefined {
  const value = env[name]?.trim();
  return value === undefined || value === '' ? undefined : value;
}

/**
 * Reads the environment overrides. Values are checked by the config schema like any
 * other; a port must be a whole number here already, since the environment only holds text.
 *
 * | variable              | overrides        | notes                                   |
 * |-----------------------|------------------|-----------------------------------------|
 * | `MAILROOM_NATS_URL`   | `nats.url`       | wins over `NATS_URL`                    |
 * | `NATS_URL`            | `nats.url`       | the NATS tools' usual variable          |
 * | `MAILROOM_NATS_REPLICAS` | `nats.replicas` | 1, 3 or 5                             |
 * | `MAILROOM_NATS_CREDS` | `nats.auth.creds` | a `.creds` file; any `MAILROOM_NATS_` auth variable replaces the file's whole `nats.auth` |
 * | `MAILROOM_NATS_NKEY`  | `nats.auth.nkey` | a file holding the NKey seed            |
 * | `MAILROOM_NATS_TOKEN` | `nats.auth.token` |                                        |
 * | `MAILROOM_NATS_USER`, `MAILROOM_NATS_PASSWORD` | `nats.auth.user`, `.password` |  |
 * | `MAILROOM_NATS_TLS_CA`, `_CERT`, `_KEY` | `nats.tls.ca`, `.cert`, `.key` | files |
 * | `MAILROOM_HTTP_HOST`  | `http.host`      |                                         |
 * | `MAILROOM_HTTP_PORT`  | `http.port`      | wins over `PORT`; `0` = any free port   |
 * | `MAILROOM_CRYPTO_WORKERS` | `crypto.workers` | `auto` or a number of worker threads |
 * | `PORT`                | `http.port`      | as platforms such as Heroku set it      |
 * | `MAILROOM_PUBLIC_URL` | `http.publicUrl` |                                         |
 * | `MAILROOM_ADMIN_TOKEN` | `http.adminTokens` | comma-separated; added to the file's tokens |
 * | `MAILROOM_STATUS_SECRET` | `http.statusSecret` |                                      |
 * | `MAILROOM_CONFIG`     | (the file path)  | read by `loadConfig` when no path given |
 *
 * An empty value counts as unset. Overrides apply over the file, before validation.
 * @internal
 */
export function readEnvOverrides(env: Env): { overrides: EnvOverride[]; issues: ConfigIssue[] } {
  const overrides: EnvOverride[] = [];
  const issues: ConfigIssue[] = [];
  for (const source of SOURCES) {
    const variable = source.variables.find((name) => envValue(env, name) !== undefined);
    if (variable === undefined) continue;
    const text = envValue(env, variable) ?? '';
    if (source.kind === 'number') {
      if (!/^\d{1,3}$/.test(text)) {
        issues.push({ path: variable, message: `must be a whole number, got "${text}" (overrides ${source.section}.${source.key})` });
        continue;
      }
      overrides.push({ variable, section: source.section, key: source.key, value: Number(text) });
    } else if (source.kind === 'autoOrNumber') {
      if (text !== 'auto' && !/^\d{1,3}$/.test(text)) {
        issues.push({ path: variable, message: `must be auto or a whole number, got "${text}" (overrides ${source.section}.${source.key})` });
        continue;
      }
      overrides.push({ variable, section: source.section, key: source.key, value: text === 'auto' ? text : Number(text) });
    } else if (source.kind === 'port') {
      const port = /^\d{1,5}$/.test(text) ? Number(text) : NaN;
      if (!(port <= 65535)) {
        issues.push({ path: variable, message: `must be a port number from 0 to 65535, got "${text}" (overrides ${source.section}.${source.key})` });
        continue;
      }
      overrides.push({ variable, section: source.section, key: source.key, value: port });
    } else if (source.kind === 'list') {
      const items = text.split(',').map((item) => item.trim()).filter((item) => item !== '');
      overrides.push({ variable, section: source.section, key: source.key, value: items, append: true });
    } else {
      overrides.push({ variable, section: source.section, key: source.key, value: text });
    }
  }
  return { overrides, issues };
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Returns `input` with the overrides written in; `input` itself is left untouched. A
 * section that is present but not a mapping is left as it is, for the schema to report.
 * @internal
 */
export function applyEnvOverrides(input: unknown, overrides: readonly EnvOverride[]): unknown {
  if (overrides.length === 0 || !isPlainObject(input)) return input;
  const result: Record<string, unknown> = { ...input };
  // Credentials from the environment replace the file's as a whole: one way to authenticate.
  const replaced = new Set<string>();
  for (const { section, key, value, append } of overrides) {
    const current = result[section];
    const dot = key.indexOf('.');
    if (dot > 0) {
      const group = key.slice(0, dot);
      const mapping = isPlainObject(current) ? current : current === undefined ? {} : undefined;
      if (mapping === undefined) continue;
      const fresh = group === 'auth' && !replaced.has(`${section}.${group}`);
      replaced.add(`${section}.${group}`);
      const before = mapping[group];
      const inner = !fresh && isPlainObject(before) ? before : {};
      result[section] = { ...mapping, [group]: { ...inner, [key.slice(dot + 1)]: value } };
    } else if (current === undefined) result[section] = { [key]: value };
    else if (isPlainObject(current)) {
      const before = current[key];
      result[section] = { ...current, [key]: append && Array.isArray(before) && Array.isArray(value) ? [...(before as unknown[]), ...value] : value };
    }
  }
  return result;
}
