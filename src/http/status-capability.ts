import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { KeyObject } from 'node:crypto';

/** The label the derived status secret is an HMAC of: a new label makes every old status URL invalid. */
const DERIVATION_LABEL = 'mailroom status capability v1';

/**
 * The server secret that status capability tokens are made with:
 *
 * - `configured` (`http.statusSecret` / `MAILROOM_STATUS_SECRET`) when given;
 * - else derived from the hosted domains' private keys (an HMAC of a fixed label keyed by a
 *   digest of every key), so every process on the same config hands out the same URLs;
 * - else (no domain, no secret) random for this process: its URLs die with it.
 */
export function statusSecret(configured: string | undefined, keys: readonly { readonly name: string; readonly key: KeyObject }[]): Buffer {
  if (configured !== undefined) return createHash('sha256').update(configured, 'utf8').digest();
  if (keys.length === 0) return randomBytes(32);
  const digest = createHash('sha256');
  for (const { name, key } of [...keys].sort((a, b) => a.name.localeCompare(b.name))) {
    const der = key.export({ type: 'pkcs8', format: 'der' });
    digest.update(`${name}\0${der.length}\0`).update(der);
  }
  return createHmac('sha256', digest.digest()).update(DERIVATION_LABEL).digest();
}

/** What a status capability names: one envelope, by sender, correlation and its Header.Hash. */
export interface StatusCapability {
  readonly from: string;
  readonly correlation: string;
  readonly hash: string;
}

/** The capability token: HMAC-SHA256 under the secret over (from, correlation, hash), base64url. */
export function statusToken(secret: Buffer, capability: StatusCapability): string {
  // JSON of an array: unambiguous, whatever characters the parts hold.
  return createHmac('sha256', secret).update(JSON.stringify([capability.from, capability.correlation, capability.hash])).digest('base64url');
}

/** True when `token` is the capability token of (from, correlation, hash); compared in constant time. */
export function verifyStatusToken(secret: Buffer, capability: StatusCapability, token: string): boolean {
  const expected = Buffer.from(statusToken(secret, capability), 'utf8');
  const given = Buffer.from(token, 'utf8');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** The path of a status capability URL: `/status/{from}/{correlation}/{hash}/{token}`, each segment URL-encoded. */
export function statusPath(secret: Buffer, capability: StatusCapability): string {
  const parts = [capability.from, capability.correlation, capability.hash, statusToken(secret, capability)];
  return `/status/${parts.map(encodeURIComponent).join('/')}`;
}
