/**
 * Where feedback about a sender's discarded envelopes goes: the buffer domain its manifest
 * names (`About.Feedback`), found by a chain. First the config (a hosted domain's `feedback`
 * or `manifest`, a remote one's `manifests:` entry); then, when the config names a graph
 * domain (`manifestGraph`), the sender's manifest asked of that graph; then the sender's own
 * inbox; else none. Both asks are the protocol's manifest request: an unsigned, Anonymous
 * `Manifest@Domain` envelope addressed to the sender, POSTed to the inbox URL of the graph or of
 * the sender (a `directory` entry, else `https://pw.{domain}/inbox` by convention,
 * SSRF-guarded), whose answer is the sender's manifest. A manifest whose `About.Domain` names
 * another domain is ignored. Results are cached in this process's memory for `ttlMs`, failures
 * and manifests without a buffer for `negativeTtlMs`. Asked only when a discard needs a buffer
 * of a verified sender, never on the path of a valid envelope.
 *
 * The graph's request and answer are an assumption: the protocol's `About@Graph` answers a
 * domain's title, description and icons, not its feedback buffer, so Mailroom asks a graph the
 * way it asks the domain itself, and a graph that does not answer that form is skipped.
 */
import { randomUUID } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isDomainName } from '../envelope/envelope-fields.ts';
import { MANIFEST_SUBJECT } from '../config/manifest-config.ts';
import type { InboxUrl } from '../config/inbox-url.ts';
import { assertPublicLiteral, guardedLookup } from './ssrf-guard.ts';

/** A sender's buffer domain, or why there is none (`note` goes into the envelope's status). */
export type BufferLookup =
  | { readonly buffer: string; readonly source: 'config' | 'manifest' | 'graph'; readonly note: string }
  | { readonly buffer?: undefined; readonly note: string };

export interface ManifestResolverOptions {
  /** The buffer the config names for a sender, if any. */
  readonly configured: (sender: string) => string | undefined;
  /** The sender's inbox URL; `undefined` for a sender that is not a domain name (Anonymous, a wallet). */
  readonly inboxUrl: (sender: string) => InboxUrl | undefined;
  /** A graph domain asked for the manifests of senders before they are asked themselves (`manifestGraph`). */
  readonly graph?: string | undefined;
  /** Allow a conventional inbox URL on a private network (`outbox.allowPrivateNetworks`). */
  readonly allowPrivateNetworks?: boolean;
  readonly ttlMs?: number;
  readonly negativeTtlMs?: number;
  readonly timeoutMs?: number;
  /** The largest manifest answer read (default 64 KiB). */
  readonly maxBytes?: number;
  /** Cached senders at most (default 10,000; the oldest go first). */
  readonly maxEntries?: number;
  readonly now?: () => number;
}

export interface ManifestResolver {
  /**
   * The sender's buffer domain: the config, then the cache, then (with `fetch`, the default)
   * the sender's manifest fetched by the protocol. Pass `fetch: false` for a sender that did
   * not prove who it is: an unverified envelope must never make this runtime send requests to
   * the domain it merely claims (a reflector for forged envelopes).
   */
  bufferOf(sender: string, options?: { readonly fetch?: boolean }): Promise<BufferLookup>;
}

const MINUTE = 60_000;

export function createManifestResolver(options: ManifestResolverOptions): ManifestResolver {
  const now = options.now ?? Date.now;
  const ttlMs = options.ttlMs ?? 60 * MINUTE;
  const negativeTtlMs = options.negativeTtlMs ?? 5 * MINUTE;
  const maxEntries = options.maxEntries ?? 10_000;
  const cache = new Map<string, { lookup: BufferLookup; until: number }>();
  const inFlight = new Map<string, Promise<BufferLookup>>();

  const remember = (sender: string, lookup: BufferLookup) => {
    if (cache.size >= maxEntries) cache.delete(cache.keys().next().value!);
    cache.set(sender, { lookup, until: now() + (lookup.buffer ? ttlMs : negativeTtlMs) });
    return lookup;
  };

  const ask = async (inboxOf: string, sender: string): Promise<{ feedback: string } | { error: string }> => {
    const inbox = options.inboxUrl(inboxOf);
    if (!inbox) return { error: `${inboxOf} has no inbox to ask` };
    const guard = inbox.source === 'convention' && !options.allowPrivateNetworks;
    const answer = await fetchManifest(inbox.url, sender, { guard, timeoutMs: options.timeoutMs ?? 5_000, maxBytes: options.maxBytes ?? 64 * 1024 });
    if ('error' in answer) return answer;
    const about = (manifestIn(answer.manifest) as { About?: { Domain?: unknown; Feedback?: unknown } } | undefined)?.About;
    if (typeof about?.Domain === 'string' && about.Domain.toLowerCase() !== sender) return { error: `the manifest is of another domain (${about.Domain})` };
    const feedback = about?.Feedback;
    if (typeof feedback !== 'string' || !isDomainName(feedback)) return { error: 'manifest has no Feedback' };
    return { feedback: feedback.toLowerCase() };
  };

  const fetchLookup = async (sender: string): Promise<BufferLookup> => {
    if (!options.inboxUrl(sender)) return { note: `feedback: none, ${sender} is not a domain` };
    const graph = options.graph && options.graph !== sender ? options.graph : undefined;
    const fromGraph = graph ? await ask(graph, sender) : undefined;
    if (fromGraph && 'feedback' in fromGraph) return { buffer: fromGraph.feedback, source: 'graph', note: `feedback: ${fromGraph.feedback}, from the manifest of ${sender} at the graph ${graph}` };
    const own = await ask(sender, sender);
    if ('feedback' in own) return { buffer: own.feedback, source: 'manifest', note: `feedback: ${own.feedback}, from the manifest of ${sender}` };
    const graphNote = fromGraph && 'error' in fromGraph ? `; the graph ${graph}: ${fromGraph.error}` : '';
    if (own.error === 'manifest has no Feedback') return { note: `feedback: none, manifest has no Feedback${graphNote}` };
    return { note: `feedback: none, no manifest from ${sender} (${own.error})${graphNote}` };
  };

  return {
    async bufferOf(sender, lookupOptions) {
      const configured = options.configured(sender);
      if (configured) return { buffer: configured, source: 'config', note: `feedback: ${configured}, from the config` };
      const cached = cache.get(sender);
      if (cached && cached.until > now()) return cached.lookup;
      if (lookupOptions?.fetch === false) return { note: `feedback: none, ${sender} is not proven (signature not verified): its manifest is not fetched` };
      cache.delete(sender);
      let pending = inFlight.get(sender);
      if (!pending) {
        pending = fetchLookup(sender)
          .then((lookup) => remember(sender, lookup))
          .finally(() => inFlight.delete(sender));
        inFlight.set(sender, pending);
      }
      return pending;
    },
  };
}

/**
 * The manifest in an answer to `Manifest@Domain`, in any of the forms the reference's
 * `Domain.fetch_manifest` reads: its synchronous response envelope (`{ Request, Response: <the
 * manifest>, Meta }`), a message whose `Body` is the manifest, or the bare manifest.
 */
export function manifestIn(answer: unknown): Record<string, unknown> | undefined {
  if (!isObject(answer)) return undefined;
  if ('Response' in answer) return isObject(answer.Response) ? answer.Response : undefined;
  if (isObject(answer.Header) && 'Body' in answer) return isObject(answer.Body) ? answer.Body : undefined;
  return answer;
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/** The unsigned, Anonymous manifest request, as the reference's `Domain.fetch_manifest` sends it. */
export function manifestRequest(domain: string): string {
  return JSON.stringify({
    Header: { From: 'Anonymous', To: domain, Subject: MANIFEST_SUBJECT, Correlation: randomUUID(), Timestamp: new Date().toISOString(), Schema: 'pollyweb.org/MSG:1.0' },
    Body: {},
  });
}

/** POSTs the manifest request to `url` and reads the manifest from the answer (JSON, bounded). */
export function fetchManifest(url: string, domain: string, options: { guard: boolean; timeoutMs: number; maxBytes: number }): Promise<{ manifest: unknown } | { error: string }> {
  let target: URL;
  try {
    target = new URL(url);
    if (options.guard) assertPublicLiteral(target);
  } catch (error) {
    return Promise.resolve({ error: error instanceof Error ? error.message : String(error) });
  }
  const body = manifestRequest(domain);
  const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve) => {
    const req = send(
      target,
      {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), accept: 'application/json' },
        timeout: options.timeoutMs,
        ...(options.guard ? { lookup: guardedLookup as never } : {}),
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > options.maxBytes) {
            res.destroy();
            resolve({ error: `the answer is larger than ${options.maxBytes} bytes` });
          } else chunks.push(chunk);
        });
        res.on('end', () => {
          if (res.statusCode !== 200) return resolve({ error: `HTTP ${res.statusCode}` });
          try {
            resolve({ manifest: JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown });
          } catch (_) {
            resolve({ error: 'the answer is not JSON' });
          }
        });
        res.on('error', (error) => resolve({ error: error.message }));
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer within ${options.timeoutMs} ms`)));
    req.on('error', (error) => resolve({ error: error.message }));
    req.end(body);
  });
}
