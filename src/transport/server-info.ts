/**
 * What the connected nats-server can do. Mailroom runs on nats-server 2.9 and uses
 * newer features (per-message TTL, schedules, consumer pause and priority groups)
 * only where the server has them.
 */
import type { NatsConnection } from '@nats-io/transport-node';
import { TransportError } from '../errors.ts';

/** The server version and the features Mailroom switches on. */
export interface ServerFeatures {
  /** The server version as it reports it, e.g. `2.9.10`. */
  readonly version: string;
  /** JetStream is enabled on this server (and the version has it). */
  readonly jetstream: boolean;
  /** Per-message TTL (`Nats-TTL`, stream `allow_msg_ttl`): 2.11. */
  readonly msgTtl: boolean;
  /** Message schedules (`Nats-Schedule`): 2.12. */
  readonly schedules: boolean;
  /** Consumer pause and priority groups: 2.11. */
  readonly consumerPauseAndPriority: boolean;
  /** Per-key TTL in KV (built on per-message TTL): 2.11. */
  readonly kvPerKeyTtl: boolean;
}

/** A feature flag of {@link ServerFeatures}. */
export type ServerFeature = Exclude<keyof ServerFeatures, 'version'>;

/** The first server version that has each feature. */
export const featureMinVersions: Readonly<Record<ServerFeature, string>> = {
  jetstream: '2.2.0',
  msgTtl: '2.11.0',
  schedules: '2.12.0',
  consumerPauseAndPriority: '2.11.0',
  kvPerKeyTtl: '2.11.0',
};

/** A parsed `major.minor.patch[-prerelease]` version. */
export interface SemVer {
  readonly major: number;
  readonly minor: number;
  readonly patch: number;
  readonly prerelease: readonly string[];
}

const SEMVER = /^v?(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$/;

/** Parses a server version such as `2.9.10`, `v2.11.0` or `2.12.0-RC.2`; `undefined` if it is not one. */
export function parseVersion(version: string): SemVer | undefined {
  const m = SEMVER.exec(version.trim());
  if (!m) return undefined;
  return { major: Number(m[1]), minor: Number(m[2]), patch: Number(m[3]), prerelease: m[4] ? m[4].split('.') : [] };
}

function comparePrerelease(a: readonly string[], b: readonly string[]): number {
  // A release sorts after any of its prereleases (semver §11).
  if (a.length === 0 || b.length === 0) return b.length - a.length;
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const x = a[i] ?? '';
    const y = b[i] ?? '';
    if (x === y) continue;
    const xn = /^\d+$/.test(x);
    const yn = /^\d+$/.test(y);
    if (xn && yn) return Number(x) - Number(y);
    if (xn !== yn) return xn ? -1 : 1;
    return x < y ? -1 : 1;
  }
  return a.length - b.length;
}

/**
 * Compares two versions: negative if `a < b`, zero if equal, positive if `a > b`.
 * Throws a `TransportError` for a string that is not a version.
 */
export function compareVersions(a: string, b: string): number {
  const x = parseVersion(a);
  const y = parseVersion(b);
  if (!x || !y) throw new TransportError(`not a semantic version: ${JSON.stringify(x ? b : a)}`);
  return Math.sign(x.major - y.major || x.minor - y.minor || x.patch - y.patch || comparePrerelease(x.prerelease, y.prerelease));
}

/** True when `version` is `min` or later. */
export function isAtLeast(version: string, min: string): boolean {
  return compareVersions(version, min) >= 0;
}

/** The features a server of this version has. `jetstream` also needs JetStream to be enabled. */
export function featuresForVersion(version: string, jetstreamEnabled = true): ServerFeatures {
  const has = (feature: ServerFeature) => isAtLeast(version, featureMinVersions[feature]);
  return {
    version,
    jetstream: jetstreamEnabled && has('jetstream'),
    msgTtl: has('msgTtl'),
    schedules: has('schedules'),
    consumerPauseAndPriority: has('consumerPauseAndPriority'),
    kvPerKeyTtl: has('kvPerKeyTtl'),
  };
}

/**
 * Reads the version and feature flags of the server `nc` is connected to (from the
 * INFO the server sent; after a reconnect, the server reconnected to).
 *
 * @example
 * ```ts
 * const { version, msgTtl } = serverInfo(nc);
 * if (!msgTtl) useKvDeadlineIndex(); // nats-server < 2.11
 * ```
 */
export function serverInfo(nc: NatsConnection): ServerFeatures {
  const info = nc.info;
  if (!info) throw new TransportError('no server INFO yet: the connection is not established');
  if (!parseVersion(info.version)) throw new TransportError(`cannot parse the nats-server version ${JSON.stringify(info.version)}`);
  return featuresForVersion(info.version, info.jetstream === true);
}

/**
 * The first nats-server whose work-queue streams keep honouring acks after their replicas
 * change. On 2.9 (seen on 2.9.10), a durable consumer that existed when its work-queue
 * stream was rescaled (R1 → R3) still delivers and records acks, but the stream no longer
 * removes the acked messages: the inbox never empties and every backlog gauge stays up.
 * Deleting the consumer and adding it again (same config) ends it. Assumed fixed from 2.10,
 * where stream and consumer assignments were reworked; not verified on a 2.10 server here.
 */
export const WORKQUEUE_RESCALE_FIXED_IN = '2.10.0';

/** True when `version` needs durable consumers recreated after their work-queue stream's replicas change (see {@link WORKQUEUE_RESCALE_FIXED_IN}); true for a version it cannot parse. */
export function needsConsumerRenewalAfterRescale(version: string): boolean {
  return !parseVersion(version) || !isAtLeast(version, WORKQUEUE_RESCALE_FIXED_IN);
}
