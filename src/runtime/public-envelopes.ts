/**
 * Public envelopes: an envelope that proves nothing about its sender (unsigned, or from
 * `Anonymous` or a wallet UUID, which have no key to check) to a subject that the addressed
 * domain lists in `publicSubjects`. Such an envelope is stored and handled like any other, but
 * as **unverified**: it never claims a correlation, never answers a conversation, never causes
 * a manifest fetch, feedback or a signed reply, and it is admitted at the inbox under a rate
 * limit of its own (per client address and in total), apart from signed traffic.
 * `Manifest@Domain` is not queued at all: it is answered where it arrives (manifest-route.ts).
 */
import { isUnsigned } from '../envelope/envelope-schema.ts';
import { isDomainName } from '../envelope/envelope-fields.ts';
import type { Envelope } from '../envelope/types.ts';
import { TokenBuckets } from './token-buckets.ts';

/** The public subjects of each hosted domain, by domain (plain data: it crosses to the ingress worker thread). */
export type PublicSubjectMap = Readonly<Record<string, readonly string[]>>;

/**
 * Whether an envelope cannot prove its sender: unsigned, or from an address with no key to
 * check (`Anonymous`, a wallet UUID). Such an envelope is accepted only for a public subject.
 */
export function isUnproven(envelope: Pick<Envelope, 'Header' | 'Hash' | 'Signature'>): boolean {
  return isUnsigned(envelope) || !isDomainName(envelope.Header.From);
}

/** The sender an envelope counts against in the throttle (`delivery.senderRate`): unproven ones share a bucket of their own, never the sender they claim. */
export const UNPROVEN_SENDER = '(unproven)';
export function senderKeyOf(envelope: Pick<Envelope, 'Header' | 'Hash' | 'Signature'>): string {
  return isUnproven(envelope) ? UNPROVEN_SENDER : envelope.Header.From;
}

/** Whether `subject` is public at hosted domain `to` (domains are compared in lower case, as validated). */
export function isPublicSubject(subjects: PublicSubjectMap, to: string, subject: string): boolean {
  const domain = to.toLowerCase();
  return Object.hasOwn(subjects, domain) && subjects[domain]!.includes(subject);
}

export interface PublicEnvelopesOptions {
  readonly subjects: PublicSubjectMap;
  /** Unproven envelopes per client address: `rate` a second, `burst` at once (default 10 a second, 20 at once). */
  readonly rate?: number;
  readonly burst?: number;
  /** Unproven envelopes from all clients together (default 100 a second, 200 at once). */
  readonly totalRate?: number;
  readonly totalBurst?: number;
  readonly now?: () => number;
}

/** The inbox's gate for unproven envelopes. */
export interface PublicEnvelopes {
  /** Whether `subject` is public at `to`. */
  isPublic(to: string, subject: string): boolean;
  /** Admits one unproven envelope from `client`: 0, or the milliseconds to wait (nothing taken). */
  admit(client: string | undefined): number;
}

const TOTAL = '*';

export function createPublicEnvelopes(options: PublicEnvelopesOptions): PublicEnvelopes {
  const now = options.now ? { now: options.now } : {};
  const perClient = new TokenBuckets({ rate: options.rate ?? 10, burst: options.burst ?? 20, ...now });
  const total = new TokenBuckets({ rate: options.totalRate ?? 100, burst: options.totalBurst ?? 200, maxKeys: 1, ...now });
  return {
    isPublic: (to, subject) => isPublicSubject(options.subjects, to, subject),
    admit(client) {
      // The client's own bucket first: one noisy client is refused before it drains the total.
      const wait = perClient.take(client ?? 'unknown');
      return wait > 0 ? wait : total.take(TOTAL);
    },
  };
}
