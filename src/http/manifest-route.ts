/**
 * The protocol's manifest request, answered where it arrives: an envelope with Subject
 * `Manifest@Domain` to a hosted domain, signed or not (the reference sends it unsigned, from
 * `Anonymous`), posted to `POST /inbox`, is answered with that domain's manifest in the HTTP
 * response (200, `application/json`), in the reference's synchronous response envelope:
 * `{ Request: <the request>, Response: <the manifest>, Meta: { Code: 200 } }`, which the
 * reference's `Domain.fetch_manifest` unwraps (it reads a bare manifest too). Nothing is stored
 * and no actor runs. Anything else goes on to the inbox as before.
 */
import { WireHeader } from '../envelope/index.ts';
import { parseText, type TextFormat } from '../envelope/parse-text.ts';
import type { ParseLimits } from '../envelope/parse-limits.ts';
import { MANIFEST_SUBJECT, type Manifest } from '../config/manifest-config.ts';
import { TokenBuckets } from '../runtime/token-buckets.ts';

/** The manifests answered here, by hosted domain (plain data: it crosses to the ingress worker thread). */
export type HostedManifests = Readonly<Record<string, Manifest>>;

export type ManifestAnswer =
  | { readonly kind: 'manifest'; readonly manifest: Manifest; readonly request: Readonly<Record<string, unknown>> }
  | { readonly kind: 'limited'; readonly retryAfterSeconds: number };

export interface ManifestRequestsOptions {
  readonly manifests: HostedManifests;
  readonly maxBodyBytes: number;
  /** Manifest answers per client address: `rate` a second, `burst` at once (default 20 a second, 40 at once). */
  readonly rate?: number;
  readonly burst?: number;
  readonly now?: () => number;
}

const SUBJECT_BYTES = Buffer.from(MANIFEST_SUBJECT);

/**
 * Answers manifest requests. `answer` returns `undefined` for anything that is not a
 * well-formed manifest request to a hosted domain, which then takes the inbox path (and its
 * verdicts) unchanged.
 */
export function createManifestRequests(options: ManifestRequestsOptions) {
  const { manifests } = options;
  const limits: Partial<ParseLimits> = { maxBytes: options.maxBodyBytes };
  const buckets = new TokenBuckets({ rate: options.rate ?? 20, burst: options.burst ?? 40, ...(options.now ? { now: options.now } : {}) });
  const hosted = Object.keys(manifests).length > 0;
  return {
    answer(body: Uint8Array, format: TextFormat, client: string): ManifestAnswer | undefined {
      // Most envelopes never name the subject: they pay one byte search, not a second parse.
      if (!hosted || !Buffer.from(body.buffer, body.byteOffset, body.byteLength).includes(SUBJECT_BYTES)) return undefined;
      const parsed = parseText(body, { format, limits });
      if (!parsed.ok) return undefined;
      const doc = parsed.value.value;
      const header = WireHeader.safeParse(doc.Header);
      if (!header.success || header.data.Subject !== MANIFEST_SUBJECT) return undefined;
      const manifest = Object.hasOwn(manifests, header.data.To.toLowerCase()) ? manifests[header.data.To.toLowerCase()] : undefined;
      if (!manifest) return undefined;
      const wait = buckets.take(client);
      if (wait > 0) return { kind: 'limited', retryAfterSeconds: Math.max(1, Math.ceil(wait / 1000)) };
      return { kind: 'manifest', manifest, request: doc };
    },
  };
}

/** The reference's synchronous response envelope around an answer (`Request`, `Response`, `Meta`, nothing else). */
export interface SyncResponse {
  readonly Request: Readonly<Record<string, unknown>>;
  readonly Response: unknown;
  readonly Meta: { readonly Code: number };
}

/** The answer to a manifest request, as the reference's inboxes give it. */
export function manifestResponse(request: Readonly<Record<string, unknown>>, manifest: Manifest): SyncResponse {
  return { Request: request, Response: manifest, Meta: { Code: 200 } };
}
