import { verifyDecoded, verifyDecodedAsync, type DecodedEnvelope, type EnvelopeVerifier } from '../envelope/index.ts';
import { checkTimestamp, type TimestampWindow } from '../envelope/timestamp-window.ts';
import { rejected, ok, type Result } from '../envelope/types.ts';
import type { KeyResolver } from '../keys/index.ts';
import type { ReplayGuard } from './replay-guard.ts';
import { FEEDBACK_SUBJECT, isReplySubject } from './handlers.ts';

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
}

/**
 * Validates one decoded, stored envelope, each failure a named reason, in the spec's order:
 * unsupported schema → malformed → not addressed to us → timestamp → key not found → hash
 * mismatch → bad signature → duplicate correlation → unknown subject.
 *
 * The one departure from DESIGN.md: the correlation is claimed (and a replay detected) only
 * after the signature verifies, so a forger cannot burn a sender's correlation, and it costs
 * one KV write instead of a read and a write. An envelope that is both replayed and forged
 * is reported as forged. Transient faults (DNS, KV) are thrown, so the actor retries.
 */
export async function validateEnvelope(decoded: Result<DecodedEnvelope>, messageId: string, deps: ValidatorDeps): Promise<Result<DecodedEnvelope>> {
  if (!decoded.ok) return decoded;
  const { Header } = decoded.value.envelope;
  if (!deps.isLocalDomain(Header.To)) return rejected('not-addressed-to-us', `${Header.To} is not a domain hosted here`);
  // Feedback is validated loosely: its freshness and replay checks are skipped, its signature is not.
  const isFeedback = Header.Subject === FEEDBACK_SUBJECT;
  if (!isFeedback) {
    const fresh = checkTimestamp(Header.Timestamp, deps.now(), deps.window);
    if (!fresh.ok) return fresh;
  }
  const key = await deps.keys.resolve(Header.From, Header.Selector);
  if (!key) return rejected('key-not-found', `no key for ${Header.From} selector ${Header.Selector ?? '(none)'}`);
  const verified = deps.verifier ? await verifyDecodedAsync(decoded.value, key, deps.verifier) : verifyDecoded(decoded.value, key);
  if (!verified.ok) return verified;
  if (!isFeedback && !(await deps.replay.claim(Header.From, Header.Correlation, messageId))) {
    return rejected('duplicate-correlation', `correlation ${Header.Correlation} from ${Header.From} was already used`);
  }
  if (!isFeedback && !isReplySubject(Header.Subject) && !deps.hasHandler(Header.To, Header.Subject)) {
    return rejected('unknown-subject', `${Header.To} has no handler for ${Header.Subject}`);
  }
  return ok(decoded.value);
}
