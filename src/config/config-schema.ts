import { z } from 'zod';
import { parsePublicKey } from '../keys/public-key.ts';
import {
  count,
  DnsServer,
  DomainName,
  duration,
  durationOrOff,
  filePath,
  HttpUrl,
  ListenHost,
  NatsAuth,
  NatsUrl,
  Port,
  Replicas,
  Selector,
  strictObject,
} from './config-fields.ts';
import { derivePublicUrl, trimTrailingSlash } from './public-url.ts';
import { checkDomainManifest, domainManifestFields, ManifestGraph, PublicLimit } from './manifest-config.ts';

const SECOND = 1_000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** Reports every entry whose `keyOf` repeats an earlier one, at `path(index)`. */
function unique<T>(keyOf: (item: T) => string, what: string, path: (index: number) => (string | number)[]) {
  return (items: T[], ctx: z.RefinementCtx) => {
    const seen = new Map<string, number>();
    items.forEach((item, index) => {
      const key = keyOf(item);
      const first = seen.get(key);
      if (first === undefined) seen.set(key, index);
      else ctx.addIssue({ code: 'custom', message: `${what} ${key} is listed twice (also at index ${first})`, path: path(index) });
    });
  };
}

const retryPolicy = (defaults: { initialDelayMs: number; maxDelayMs: number }) =>
  strictObject({
    initialDelay: duration(1).default(defaults.initialDelayMs),
    maxDelay: duration(1).default(defaults.maxDelayMs),
    multiplier: z.number().min(1, { error: 'must be ≥ 1' }).max(100, { error: 'must be ≤ 100' }).default(2),
  })
    .superRefine((retry, ctx) => {
      if (retry.initialDelay > retry.maxDelay) {
        ctx.addIssue({ code: 'custom', message: `initialDelay (${retry.initialDelay}ms) is longer than maxDelay (${retry.maxDelay}ms)`, path: ['initialDelay'] });
      }
    })
    .transform((retry) => ({ initialDelayMs: retry.initialDelay, maxDelayMs: retry.maxDelay, multiplier: retry.multiplier }));

const publicKeyText = z.string().superRefine((text, ctx) => {
  try {
    parsePublicKey(text);
  } catch (error) {
    ctx.addIssue({ code: 'custom', message: `not a usable public key: ${error instanceof Error ? error.message : String(error)}` });
  }
});

const CRYPTO_WORKERS_HINT = 'expected auto, or a whole number of worker threads from 0 (on the event loop) to 64';
/** `crypto.workers`: `auto` or 0–64 worker threads. */
const CryptoWorkers = z
  .union([z.string(), z.number()], { error: CRYPTO_WORKERS_HINT })
  .superRefine((value, ctx) => {
    if (value === 'auto' || (typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= 64)) return;
    ctx.addIssue({ code: 'custom', message: `${CRYPTO_WORKERS_HINT}, not ${JSON.stringify(value)}` });
  })
  .transform((value) => value as 'auto' | number);

/** An admin bearer token: long enough not to be guessed, no spaces or commas (the env variable lists them with commas). */
const AdminToken = z
  .string()
  .min(16, { error: 'an admin token must be at least 16 characters (e.g. openssl rand -hex 32)' })
  .regex(/^[\x21-\x2b\x2d-\x7e]+$/, { error: 'an admin token is printable ASCII without spaces or commas' });

function sections(baseDir: string) {
  const nats = strictObject({
    url: NatsUrl.optional(),
    embedded: strictObject({
      storeDir: filePath(baseDir).prefault('.mailroom/nats'),
      port: Port.default(0),
      configFile: filePath(baseDir).optional(),
    }).prefault({}),
    prefix: z
      .string()
      .regex(/^[A-Za-z0-9_-]{1,32}$/, { error: 'must be 1-32 letters, digits, hyphens or underscores (it names streams and subjects)' })
      .default('mailroom'),
    /** Replicas of every stream and KV bucket: 1, or 3 or 5 on a JetStream cluster. Raised on existing ones, never lowered. */
    replicas: Replicas.default(1),
    /** Where new streams and buckets go: a cluster by name, and server tags. */
    placement: strictObject({ cluster: z.string().min(1).optional(), tags: z.array(z.string().min(1)).default([]) }).optional(),
    /** Also lower replicas and move placement an operator changed (normally left, with a warning). Usually one start's `--force-provision`. */
    forceProvision: z.boolean().default(false),
    /** How this runtime proves who it is to `url` (one way); the embedded server needs none. */
    auth: NatsAuth(baseDir).optional(),
    /** TLS to `url`: present → TLS is required; `ca` to trust a private CA, `cert` + `key` for a client certificate. */
    tls: strictObject({ ca: filePath(baseDir).optional(), cert: filePath(baseDir).optional(), key: filePath(baseDir).optional() })
      .superRefine((t, ctx) => {
        if ((t.cert === undefined) !== (t.key === undefined)) ctx.addIssue({ code: 'custom', message: 'cert and key go together (a client certificate and its key)', path: [t.cert === undefined ? 'cert' : 'key'] });
      })
      .optional(),
  }).superRefine((n, ctx) => {
    for (const key of ['auth', 'tls'] as const) {
      if (n[key] !== undefined && n.url === undefined) ctx.addIssue({ code: 'custom', message: `applies to nats.url only; the embedded server (no url) is loopback-only and takes no ${key}`, path: [key] });
    }
  });

  const http = strictObject({
    host: ListenHost.default('127.0.0.1'),
    port: Port.default(8080),
    publicUrl: HttpUrl.optional(),
    maxBodyBytes: count(1)
      .max(64 * 1024 * 1024, { error: 'must be ≤ 64 MiB (and should fit the NATS max_payload, 1 MiB by default)' })
      .default(256 * 1024),
    tls: strictObject({ cert: filePath(baseDir), key: filePath(baseDir) }).optional(),
    /** Bearer tokens for the admin routes (several, for rotation); none: admin routes answer only to loopback peers. */
    adminTokens: z.array(AdminToken).default([]),
    /** A separate listener for the admin routes; the main one then serves only the public routes. */
    admin: strictObject({ host: ListenHost.default('127.0.0.1'), port: Port }).optional(),
    /** `/metrics`: an admin route (default) or a public one. */
    metrics: z.enum(['admin', 'public']).default('admin'),
    /** The secret of the capability status URLs; default derived from the hosted domains' private keys. */
    statusSecret: z.string().min(16, { error: 'must be at least 16 characters (e.g. openssl rand -hex 32)' }).optional(),
    /** Hosted domains that `POST /conversations` may use as `from` (default none). */
    sendAs: z.array(DomainName).default([]),
    /** A request body must arrive within this time, else 408. */
    readTimeout: duration(1).default(10 * SECOND),
  })
    .superRefine((h, ctx) => {
      if (h.admin && h.admin.port !== 0 && h.admin.port === h.port) ctx.addIssue({ code: 'custom', message: `the admin listener needs its own port, not http.port (${h.port})`, path: ['admin', 'port'] });
    })
    .transform(({ readTimeout, ...h }) => ({
      ...h,
      readTimeoutMs: readTimeout,
      publicUrl: h.publicUrl !== undefined ? trimTrailingSlash(h.publicUrl) : h.port === 0 ? undefined : derivePublicUrl(h),
    }));

  const domain = strictObject({
    name: DomainName,
    selector: Selector,
    privateKey: filePath(baseDir),
    handlers: filePath(baseDir).optional(),
    feedback: DomainName.optional(),
    /** Its manifest (the reference's `MANIFEST`), answered to `Manifest@Domain`; default `About: { Domain: name, Feedback: feedback }`. */
    ...domainManifestFields,
  }).superRefine(checkDomainManifest);

  const trustedKey = strictObject({
    domain: DomainName,
    selector: Selector,
    key: z.union([publicKeyText, strictObject({ file: filePath(baseDir) })], {
      error: 'expected the key as text (PEM, DKIM TXT value or base64) or { file: path }',
    }),
  });

  const dns = strictObject({
    enabled: z.boolean().default(false),
    servers: z.array(DnsServer).default([]),
    /** DNSSEC as the reference checks it (AD on the TXT and on the DS of `pw.{From}`); `false` is the explicit opt-out. */
    dnssec: z.boolean().optional(),
    /** The older name of `dnssec`. */
    requireDnssec: z.boolean().optional(),
    timeout: duration(1).default(2 * SECOND),
    cacheTtl: duration(0).default(5 * MINUTE),
  })
    .superRefine((d, ctx) => {
      if (d.dnssec !== undefined && d.requireDnssec !== undefined && d.dnssec !== d.requireDnssec) {
        ctx.addIssue({ code: 'custom', message: 'dnssec and requireDnssec say different things: keep dnssec', path: ['requireDnssec'] });
      }
    })
    .transform((d) => ({ enabled: d.enabled, servers: d.servers, requireDnssec: d.dnssec ?? d.requireDnssec ?? true, timeoutMs: d.timeout, cacheTtlMs: d.cacheTtl }));

  const validation = strictObject({
    maxSkew: duration(0).default(5 * MINUTE),
    maxAge: durationOrOff(1).default(15 * MINUTE),
    replayWindow: duration(1).default(24 * HOUR),
    strict: z.boolean().default(false),
  }).transform((v) => ({ maxSkewMs: v.maxSkew, maxAgeMs: v.maxAge, replayWindowMs: v.replayWindow, strict: v.strict }));

  /** Where a throttle's count is held: `process` (this one) or `cluster` (a JetStream KV bucket every process on the prefix shares). */
  const throttleScope = z.enum(['process', 'cluster']).optional();
  const delivery = strictObject({
    maxAttempts: count(1).default(5),
    ackWait: duration(1).default(30 * SECOND),
    retry: retryPolicy({ initialDelayMs: SECOND, maxDelayMs: MINUTE }).prefault({}),
    concurrency: count(1).default(64),
    /** The longest a handler may run; then the attempt fails as retryable (`handler-timeout`) and its signal is aborted. */
    handlerTimeout: duration(1).default(30 * SECOND),
    /** The longest `stop()` waits for the handlers still running; then they are aborted and their messages handed back. */
    stopGrace: duration(0).default(10 * SECOND),
    /**
     * Per subject: at most `maxInFlight` in flight (in this process, or with `scope: cluster` across
     * every process on the prefix); its own attempts, backoff and handler timeout.
     */
    subjects: z
      .record(
        z.string().min(1),
        strictObject({
          maxInFlight: count(1).optional(),
          scope: throttleScope,
          maxAttempts: count(1).optional(),
          retry: retryPolicy({ initialDelayMs: SECOND, maxDelayMs: MINUTE }).optional(),
          handlerTimeout: duration(1).optional(),
          /**
           * Batch handling: the subject's handler is a batch handler, called once for up to
           * `maxSize` envelopes (default 10) or for what arrived within `maxWait` (default 100 ms),
           * whichever first. Each envelope keeps its own actor and final state. Wins over the
           * options given to `batchHandler()` in code.
           */
          batch: strictObject({
            maxSize: count(1).max(1024, { error: 'must be ≤ 1024 (the inbox consumer holds at most 1024 unacked envelopes)' }).optional(),
            maxWait: duration(1).optional(),
          })
            .transform((b) => ({ ...(b.maxSize !== undefined ? { maxSize: b.maxSize } : {}), ...(b.maxWait !== undefined ? { maxWaitMs: b.maxWait } : {}) }))
            .optional(),
        }).transform(({ handlerTimeout, ...subject }) => ({ ...subject, ...(handlerTimeout !== undefined ? { handlerTimeoutMs: handlerTimeout } : {}) })),
      )
      .default({}),
    /** Per sender: at most `rate` envelopes a second (and `burst` at once), in this process (or with `scope: cluster`, across every process on the prefix). */
    senderRate: strictObject({ rate: z.number().positive({ error: 'must be > 0' }), burst: count(1).optional(), scope: throttleScope }).optional(),
    /**
     * Which inbox consumer this process pulls from: `shared` (one for the prefix; every process must
     * host the same domains) or `per-domain` (one per hosted domain, filtered on its subjects).
     */
    inboxConsumers: z.enum(['shared', 'per-domain']).default('shared'),
    /** Ordered processing: envelopes with the same key (sender or subject) one at a time, in arrival order. */
    ordering: strictObject({ by: z.enum(['sender', 'subject']).default('sender'), partitions: count(1).max(256, { error: 'must be ≤ 256' }).default(16) }).optional(),
  })
    .superRefine((d, ctx) => {
      // The ordered partitions' consumers are shared by every process: with domains spread over
      // processes, one that does not host a domain would discard that domain's ordered envelopes.
      if (d.inboxConsumers === 'per-domain' && d.ordering) ctx.addIssue({ code: 'custom', path: ['inboxConsumers'], message: 'per-domain inbox consumers do not cover ordered partitions yet: drop delivery.ordering or use shared' });
    })
    .transform((d) => ({
    maxAttempts: d.maxAttempts,
    ackWaitMs: d.ackWait,
    retry: d.retry,
    concurrency: d.concurrency,
    handlerTimeoutMs: d.handlerTimeout,
    stopGraceMs: d.stopGrace,
    subjects: d.subjects,
    ...(d.senderRate ? { senderRate: { rate: d.senderRate.rate, burst: d.senderRate.burst ?? Math.max(1, Math.ceil(d.senderRate.rate)), ...(d.senderRate.scope ? { scope: d.senderRate.scope } : {}) } } : {}),
    ...(d.inboxConsumers === 'per-domain' ? { inboxConsumers: d.inboxConsumers } : {}),
    ...(d.ordering ? { ordering: d.ordering } : {}),
  }));

  const outbox = strictObject({
    maxAttempts: count(1).default(8),
    retry: retryPolicy({ initialDelayMs: SECOND, maxDelayMs: 5 * MINUTE }).prefault({}),
    allowPrivateNetworks: z.boolean().default(false),
  });

  const inbox = strictObject({
    /** Refuse new envelopes (503 + Retry-After) while this many inbox messages wait unprocessed in JetStream; absent: never. */
    maxPending: count(1).optional(),
    /** The Retry-After of those 503 answers (whole seconds, at least 1). */
    retryAfter: duration(1).default(2 * SECOND),
  }).transform(({ retryAfter, ...i }) => ({ ...i, retryAfterMs: retryAfter }));

  return { nats, http, domain, trustedKey, dns, validation, delivery, outbox, inbox };
}

/**
 * Builds the `mailroom.yaml` schema with file paths resolved against `baseDir` (the
 * config file's folder; the working directory when left out). {@link parseConfig} is
 * the usual way in: it also applies environment overrides and turns issues into a
 * `ConfigError`.
 */
export function createConfigSchema(baseDir = '') {
  const s = sections(baseDir);
  return strictObject({
    nats: s.nats.prefault({}),
    http: s.http.prefault({}),
    inbox: s.inbox.prefault({}),
    domains: z
      .array(s.domain)
      .superRefine(unique((d) => d.name, 'domain', (i) => [i, 'name']))
      .default([]),
    keys: strictObject({
      trusted: z
        .array(s.trustedKey)
        .superRefine(unique((k) => `${k.domain} selector ${k.selector}`, 'key for', (i) => [i, 'selector']))
        .default([]),
      dns: s.dns.prefault({}),
    }).prefault({}),
    /**
     * Remote domains: the inbox URL (`partner.example: https://…/inbox`), or
     * `{ inbox?, canonical? }` where `canonical` is the form signatures for that domain cover
     * (`jcs`, the default, or `python` for a peer that verifies only the reference's form).
     */
    directory: z
      .record(DomainName, z.union([HttpUrl, strictObject({ inbox: HttpUrl.optional(), canonical: z.enum(['jcs', 'python']).optional() })], { error: 'expected an inbox URL or { inbox, canonical: jcs | python }' }))
      .default({}),
    manifests: z.record(DomainName, strictObject({ feedback: DomainName.optional() })).default({}),
    /** A graph domain asked for senders' manifests before the senders themselves (manifest-config.ts). */
    manifestGraph: ManifestGraph,
    /** The rate limit of unsigned envelopes to public subjects at the inbox (manifest-config.ts). */
    publicLimit: PublicLimit,
    /** Publish/subscribe: the domains subscribed to each topic (more can subscribe at run time). */
    topics: z
      .record(
        z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/, { error: 'a topic is letters, digits, dots, hyphens and underscores, e.g. order.placed' }),
        strictObject({ subscribers: z.array(DomainName).default([]) }),
      )
      .default({}),
    /** Modules of workflow machines to run (each exports a machine, `{ machine, options }`, or a list of them). */
    workflows: z.array(filePath(baseDir)).default([]),
    validation: s.validation.prefault({}),
    /**
     * Where signatures are checked and made: `workers: auto` (one worker thread per core, none on
     * one core), a number of worker threads, or `0` (on the event loop). Absent: `mailroom start`
     * uses `auto`; `startMailroom` uses its `cryptoPool` option (default: the event loop).
     */
    crypto: strictObject({
      workers: CryptoWorkers.optional(),
    }).prefault({}),
    delivery: s.delivery.prefault({}),
    outbox: s.outbox.prefault({}),
    /** Envelope status records expire this long after their last write (the status bucket's TTL). */
    status: strictObject({ ttl: duration(1).default(7 * DAY) }).transform((st) => ({ ttlMs: st.ttl })).prefault({}),
    /** Feedback per claimed sender domain, in each process: `rate` a second, `burst` at once; the rest is suppressed. */
    feedback: strictObject({ rate: z.number().positive({ error: 'must be > 0' }).default(1), burst: count(1).default(10) }).prefault({}),
  }).superRefine((config, ctx) => {
    const hosted = new Set(config.domains.map((d) => d.name));
    config.http.sendAs.forEach((domain, index) => {
      if (!hosted.has(domain)) ctx.addIssue({ code: 'custom', message: `${domain} is not a domain of this config (domains: ${[...hosted].join(', ') || 'none'})`, path: ['http', 'sendAs', index] });
    });
  }).transform(({ directory, ...config }) => ({ ...config, ...splitDirectory(directory) }));
}

/** What a directory entry says about a remote domain besides its inbox. */
export interface PeerConfig {
  /** The canonical form to sign envelopes for it with; stated in the entry (absent: unknown, `jcs` is used). */
  readonly canonical: 'jcs' | 'python';
}

/** `directory` as inbox URLs (the shape it always had) and `peers`: the entries that name a canonical form. */
function splitDirectory(entries: Record<string, string | { inbox?: string | undefined; canonical?: 'jcs' | 'python' | undefined }>) {
  const directory: Record<string, string> = {};
  const peers: Record<string, PeerConfig> = {};
  for (const [name, entry] of Object.entries(entries)) {
    const inbox = typeof entry === 'string' ? entry : entry.inbox;
    if (inbox !== undefined) directory[name] = inbox;
    if (typeof entry !== 'string' && entry.canonical !== undefined) peers[name] = { canonical: entry.canonical };
  }
  return { directory, peers };
}

/**
 * The `mailroom.yaml` schema, and the parsed configuration: defaults applied, durations
 * in milliseconds (fields renamed with an `Ms` suffix: `ackWait` → `ackWaitMs`), domain
 * names lower-cased, file paths absolute. Used as a schema on its own it resolves paths
 * against the working directory and applies no environment overrides; see
 * {@link parseConfig} and {@link loadConfig}.
 */
export const MailroomConfig = createConfigSchema();
export type MailroomConfig = z.output<typeof MailroomConfig>;

/** What `mailroom.yaml` may contain (every field optional where a default exists). */
export type MailroomConfigInput = z.input<typeof MailroomConfig>;

/** One local domain this runtime hosts. */
export type DomainConfig = MailroomConfig['domains'][number];
/** One pinned public key: the key text, or `{ file }` with an absolute path. */
export type TrustedKey = MailroomConfig['keys']['trusted'][number];
/** A retry schedule: `initialDelayMs`, growing by `multiplier`, capped at `maxDelayMs`. */
export type RetryPolicy = MailroomConfig['delivery']['retry'];
