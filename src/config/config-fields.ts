/**
 * The small field schemas `mailroom.yaml` is built from: domain names, selectors,
 * durations, URLs, ports and paths, and a strict object that names unknown keys.
 * @internal
 */
import { isIP } from 'node:net';
import { resolve } from 'node:path';
import { z } from 'zod';
import { readDuration } from './duration.ts';

const LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/** Why `name` is not a domain name Mailroom accepts, or `undefined` when it is one. @internal */
export function domainNameProblem(name: string): string | undefined {
  if (name === '') return 'must not be empty';
  if (/[^\x20-\x7e]/.test(name)) return `"${name}": use the ASCII (punycode, xn--) form of the name`;
  if (name.length > 253) return 'is longer than 253 characters';
  if (name.endsWith('.')) return `"${name}": write it without the trailing dot`;
  const labels = name.toLowerCase().split('.');
  if (labels.length < 2) return `"${name}" needs at least two labels, e.g. orders.example`;
  const bad = labels.find((label) => !LABEL.test(label));
  if (bad !== undefined) {
    return `"${name}": label "${bad}" is not a hostname label (1-63 letters, digits or hyphens, not starting or ending with a hyphen)`;
  }
  const top = labels[labels.length - 1] ?? '';
  if (/^\d+$/.test(top)) return `"${name}" is an address, not a domain name`;
  // The reference implementation's rule, as in the envelope's isDomainName.
  if (!/^(?:[a-z]{2,63}|xn--[a-z0-9-]{1,59})$/.test(top)) return `"${name}": the top-level label "${top}" must be 2-63 letters, or an xn-- label`;
  return undefined;
}

/** `true` when `name` is a domain name by hostname rules with at least two labels. */
export function isDomainName(name: string): boolean {
  return domainNameProblem(name) === undefined;
}

/** A domain name (hostname rules, at least two labels), lower-cased. */
export const DomainName = z.string().transform((name, ctx) => {
  const problem = domainNameProblem(name);
  if (problem !== undefined) {
    ctx.issues.push({ code: 'custom', message: problem, input: name });
    return z.NEVER;
  }
  return name.toLowerCase();
});

/** A DKIM selector: dot-separated labels of letters, digits, hyphens and underscores. */
export const Selector = z
  .string()
  .regex(/^[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,62})(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,62}))*$/, {
    error: 'must be a DKIM selector (letters, digits, hyphens, underscores; dots between labels), e.g. pw1',
  });

/** A TCP port, 0 to 65535. */
export const Port = z
  .number()
  .int({ error: 'must be a whole number' })
  .min(0, { error: 'must be from 0 to 65535' })
  .max(65535, { error: 'must be from 0 to 65535' });

/** A whole number ≥ `min`. */
export const count = (min: number) => z.number().int({ error: 'must be a whole number' }).min(min, { error: `must be ≥ ${min}` });

const DURATION_HINT = 'expected a duration: milliseconds, or a string like 500ms, 30s, 5m, 24h, 1d';

function durationIssue(input: number | string, min: number): { ms: number } | { error: string } {
  const result = readDuration(input);
  if ('ms' in result && result.ms < min) return { error: `must be at least ${min}ms` };
  return result;
}

/**
 * A duration (milliseconds, or `500ms`, `30s`, `5m`, `24h`, `1d`, `1h30m`) parsed to
 * milliseconds. `min` is the smallest value allowed, in milliseconds.
 */
export const duration = (min = 0) =>
  z.union([z.number(), z.string()], { error: DURATION_HINT }).transform((input, ctx) => {
    const result = durationIssue(input, min);
    if ('ms' in result) return result.ms;
    ctx.issues.push({ code: 'custom', message: result.error, input });
    return z.NEVER;
  });

/** Like {@link duration}, but `off` is also accepted and parses to `null` (disabled). */
export const durationOrOff = (min = 0) =>
  z.union([z.number(), z.string()], { error: `${DURATION_HINT}, or off` }).transform((input, ctx) => {
    if (input === 'off') return null;
    const result = durationIssue(input, min);
    if ('ms' in result) return result.ms;
    ctx.issues.push({ code: 'custom', message: `${result.error} (or off to disable)`, input });
    return z.NEVER;
  });

function urlProblem(text: string, protocols: readonly string[]): string | undefined {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return `must be an absolute URL (${protocols.map((p) => `${p}//`).join(' or ')}...)`;
  }
  if (!protocols.includes(url.protocol)) return `must use ${protocols.join(' or ')}, not ${url.protocol}`;
  if (url.hostname === '') return 'must name a host';
  return undefined;
}

/** An absolute `http:` or `https:` URL. */
export const HttpUrl = z.string().superRefine((text, ctx) => {
  const problem = urlProblem(text, ['http:', 'https:']);
  if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem, input: text });
});

/**
 * One NATS server URL, or several separated by commas (`nats://a:4222,nats://b:4222`), with
 * scheme `nats:`, `tls:`, `ws:` or `wss:`; `host:port` alone means `nats://host:port`.
 * The value is never echoed in an error: it may carry credentials.
 */
export const NatsUrl = z.string().superRefine((text, ctx) => {
  const parts = text.split(',').map((part) => part.trim());
  parts.forEach((part, index) => {
    const full = /^[a-z]+:\/\//i.test(part) ? part : `nats://${part}`;
    const problem = part === '' ? 'must not be empty' : urlProblem(full, ['nats:', 'tls:', 'ws:', 'wss:']);
    if (problem !== undefined) {
      ctx.addIssue({ code: 'custom', message: parts.length > 1 ? `server ${index + 1} ${problem}` : problem });
    }
  });
});

/** A host name or IP address to listen on (`127.0.0.1`, `0.0.0.0`, `::`, `localhost`). */
export const ListenHost = z.string().transform((text, ctx) => {
  const host = text.startsWith('[') && text.endsWith(']') ? text.slice(1, -1) : text;
  const hostname = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
  if (isIP(host) === 0 && !hostname.test(host)) {
    ctx.issues.push({ code: 'custom', message: `"${text}" is not a host name or IP address`, input: text });
    return z.NEVER;
  }
  return host;
});

/** A file path, resolved to an absolute path against `baseDir` (the config file's folder). */
export const filePath = (baseDir: string) =>
  z
    .string()
    .min(1, { error: 'must not be empty' })
    .transform((path) => resolve(baseDir, path));

/** Edit distance counting a swap of two neighbours as one edit (`prot` → `port` is 1). */
function distance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  const at = (i: number, j: number) => d[i]?.[j] ?? Infinity;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, at(i - 2, j - 2) + 1);
      (d[i] as number[])[j] = best;
    }
  }
  return at(a.length, b.length);
}

/** "unknown key", with the closest known key as a hint when one is near. @internal */
export function unknownKeyMessage(key: string, known: readonly string[]): string {
  const lower = key.toLowerCase();
  const ranked = known.map((name) => ({ name, d: distance(lower, name.toLowerCase()) })).sort((x, y) => x.d - y.d);
  const best = ranked[0];
  const hint = best && best.d <= Math.max(1, Math.floor(best.name.length / 3)) ? ` (did you mean "${best.name}"?)` : '';
  return `unknown key${hint}; expected one of: ${known.join(', ')}`;
}

/**
 * An object that refuses unknown keys, so that a typo (`domians:`) is an error and not
 * silently ignored. The issue message holds one line per unknown key, in `keys` order;
 * the issue formatter splits it into one issue per key.
 */
export function strictObject<T extends z.core.$ZodLooseShape>(shape: T) {
  const known = Object.keys(shape);
  return z.strictObject(shape, {
    error: (issue) => (issue.code === 'unrecognized_keys' ? issue.keys.map((key) => unknownKeyMessage(key, known)).join('\n') : undefined),
  });
}

/** A DNS server: an IP address, optionally with a port (`1.1.1.1`, `1.1.1.1:5353`, `[2606:4700::1111]:53`). */
export const DnsServer = z.string().superRefine((text, ctx) => {
  const bracketed = /^\[([^\]]+)\]:(\d{1,5})$/.exec(text);
  const v4WithPort = /^([\d.]+):(\d{1,5})$/.exec(text);
  const [address, port] = bracketed ? [bracketed[1], bracketed[2]] : v4WithPort ? [v4WithPort[1], v4WithPort[2]] : [text, undefined];
  const ok = isIP(address ?? '') !== 0 && (port === undefined || (Number(port) >= 1 && Number(port) <= 65535));
  if (!ok) ctx.addIssue({ code: 'custom', message: `"${text}" is not an IP address (optionally with :port)`, input: text });
});

/** Stream and bucket replicas: 1, 3 or 5 (JetStream's odd quorum sizes). */
export const Replicas = z.number().refine((n) => n === 1 || n === 3 || n === 5, { error: 'must be 1, 3 or 5 (3 or 5 need a JetStream cluster of at least that many nodes)' });

/**
 * NATS credentials, one way: `user` + `password`, `token`, `nkey` (a file holding the NKey
 * seed, `SU…`), or `creds` (a `.creds` file: user JWT and seed). Secrets are never echoed in
 * messages. Files are resolved against `baseDir`.
 */
export const NatsAuth = (baseDir: string) =>
  strictObject({
    user: z.string().min(1).optional(),
    password: z.string().min(1).optional(),
    token: z.string().min(1).optional(),
    nkey: filePath(baseDir).optional(),
    creds: filePath(baseDir).optional(),
  }).superRefine((a, ctx) => {
    const ways = [a.user !== undefined || a.password !== undefined ? 'user' : undefined, a.token && 'token', a.nkey && 'nkey', a.creds && 'creds'].filter(Boolean);
    if (ways.length === 0) ctx.addIssue({ code: 'custom', message: 'give one of user + password, token, nkey (seed file) or creds (credentials file)' });
    if (ways.length > 1) ctx.addIssue({ code: 'custom', message: `give one way to authenticate, not ${ways.join(' and ')}` });
    if ((a.user === undefined) !== (a.password === undefined)) ctx.addIssue({ code: 'custom', message: 'user and password go together', path: [a.user === undefined ? 'user' : 'password'] });
  });

