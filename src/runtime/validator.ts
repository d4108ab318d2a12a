import { verifyDecoded, verifyDecodedAsync, type DecodedEnvelope, type EnvelopeVerifier } from '../envelope/index.ts';
import { checkTimestamp, type TimestampWindow } from '../envelope/timestamp-window.ts';
import { rejected, ok, type Result } from '../envelope/types.ts';
import type { KeyResolver } from '../keys/index.ts';
import type { ReplayGuard } from './replay-guard.ts';
import { FEEDBACK_SUBJECT } from './handlers.ts';
import { isUnsigned } from '../envelope/envelope-schema.ts';
import { hashHex } from '../envelope/canonical.ts';
import { isUnproven } from './public-envelopes.ts';

/** What validation needs from the runtime. */
export interface ValidatorDeps {
  readonly isLocalDomain: (domain: string) => boolean;
  readonly hasHandler: (domain: string, subject: string) => boolean;
  readonly keys: KeyResolver;
  readonly replay: ReplayGuard;
  readonly window: TimestampWindow;
  readonly now: () => number;
  /** Checks signatures off the event loop (the crypto pool); without it they are checked here. */
  readonly verifier?: EnvelopeVerifier;
  /** Whether `subject` is public at hosted domain `to` (its `publicSubjects`): there an unproven envelope is handled, unverified. */
  readonly isPublic?: (to: string, subject: string) => boolean;
}

/**
 * The outcome of validation and what it proved. `verified`: the signature checked out.
 * `holder`: this envelope holds its `(From, Correlation)` (it claimed it, or had claimed it
 * before: `known`), so its outcome may be written as the status of that pair; an unverified or
 * `correlation-reused` envelope is not the holder and must not overwrite the holder's status.
 */
export interface Validation {
  readonly result: Result<DecodedEnvelope>;
  readonly verified: boolean;
  readonly holder: boolean;
  /** The claim existed already with this envelope's Hash: a redelivery, a re-post or a replay of it. */
  readonly known: boolean;
}

/** How this delivery came: `replayed` (a dead-letter replay) skips the freshness window, never the signature. */
export interface ValidateOptions {
  readonly replayed?: boolean;
}

const unproven = (result: Result<DecodedEnvelope>): Validation => ({ result, verified: false, holder: false, known: false });

/**
 * Validates one decoded, stored envelope, each failure a named reason, in the spec's order:
 * unsupported schema → malformed → not addressed to us → timestamp → key not found → hash
 * mismatch → bad signature → correlation reused → unknown subject.
 *
 * The one departure from DESIGN.md: the correlation is claimed (and a reuse detected) only
 * after the signature verifies, so a forger cannot burn a sender's correlation, and it costs
 * one KV write instead of a read and a write. The claim holds the envelope's Hash: the same
 * envelope again (redelivered, re-posted after a broker restart, replayed from the dead
 * letters) is `known`, not a replay; a different verified envelope with a claimed correlation
 * is discarded as `correlation-reused`. An envelope that is both reused and forged is reported
 * as forged. Transient faults (DNS, KV) are thrown, so the actor retries.
 */
export async function validateEnvelope(decoded: Result<DecodedEnvelope>, deps: ValidatorDeps, options: ValidateOptions = {}): Promise<Validation> {
  if (!decoded.ok) return unproven(decoded);
  const { Header } = decoded.value.envelope;
  if (!deps.isLocalDomain(Header.To)) return unproven(rejected('not-addressed-to-us', `${Header.To} is not a domain hosted here`));
  // Feedback is validated loosely: its freshness and replay checks are skipped, its signature is not.
  const isFeedback = Header.Subject === FEEDBACK_SUBJECT;
  if (!isFeedback && !options.replayed) {
    const fresh = checkTimestamp(Header.Timestamp, deps.now(), deps.window);
    if (!fresh.ok) return unproven(fresh);
  }
  if (isUnproven(decoded.value.envelope)) {
    if (deps.isPublic?.(Header.To, Header.Subject)) return publicValidation(decoded.value, deps);
    if (isUnsigned(decoded.value.envelope)) return unproven(rejected('malformed', `Hash is missing: ${Header.To} accepts unsigned envelopes only for its public subjects, not ${Header.Subject}`, { field: 'Hash', code: 'missing' }));
  }
  const key = await deps.keys.resolve(Header.From, Header.Selector);
  if (!key) return unproven(rejected('key-not-found', `no key for ${Header.From} selector ${Header.Selector ?? '(none)'}`));
  const verified = deps.verifier ? await verifyDecodedAsync(decoded.value, key, deps.verifier) : verifyDecoded(decoded.value, key);
  if (!verified.ok) return unproven(verified);
  let known = false;
  if (!isFeedback) {
    const claim = await deps.replay.claim(Header.From, Header.Correlation, decoded.value.envelope.Hash);
    if (claim === 'reused') {
      return { result: rejected('correlation-reused', `correlation ${Header.Correlation} from ${Header.From} is held by a different envelope`), verified: true, holder: false, known: false };
    }
    known = claim === 'same';
  }
  if (!isFeedback && !deps.hasHandler(Header.To, Header.Subject)) {
    return { result: rejected('unknown-subject', `${Header.To} has no handler for ${Header.Subject}`), verified: true, holder: true, known };
  }
  return { result: ok(decoded.value), verified: true, holder: true, known };
}

/**
 * An unproven envelope (unsigned, Anonymous, a wallet) to a public subject, after the freshness
 * check: handled, but never `verified` and never the `holder` of its correlation, so it claims
 * nothing (no replay claim, no status of the pair it names, no conversation). A Hash it carries
 * must still match its bytes (it cannot be checked against a key). Its subject needs a handler.
 */
function publicValidation(decoded: DecodedEnvelope, deps: ValidatorDeps): Validation {
  const { Header, Hash } = decoded.envelope;
  if (!isUnsigned(decoded.envelope) && hashHex(decoded.canonical) !== Hash && !decoded.alternates().some((bytes) => hashHex(bytes) === Hash)) {
    return unproven(rejected('hash-mismatch', 'the Hash does not match the canonical bytes'));
  }
  if (!deps.hasHandler(Header.To, Header.Subject)) return unproven(rejected('unknown-subject', `${Header.To} has no handler for ${Header.Subject}`));
  return { result: ok(decoded), verified: false, holder: false, known: false };
}
