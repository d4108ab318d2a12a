import { canonicalBodyJson } from './canonical.ts';
import { LosslessBody, mayDifferInPython, toLossless, type CanonicalForm } from './lossless-body.ts';
import { pythonJson } from './python-canonical.ts';
import type { Envelope } from './types.ts';

/** Which canonical form to sign an outgoing envelope with, per receiving domain. */
export interface CanonicalPolicy {
  /** The form for `to` (its stated one, else `jcs`); reports once per domain when its form is unknown and this body's forms differ. */
  formFor(to: string, body: Envelope['Body'] | LosslessBody | undefined): CanonicalForm;
}

/**
 * A {@link CanonicalPolicy} from the forms peers are known to verify (`directory` entries
 * with `canonical`). For any other domain it signs JCS, and the first time a body's Python
 * form differs (which a peer running the reference would refuse with "Hash mismatch") it
 * calls `onUnknown` once for that domain. The second form is only computed for bodies that
 * hold what can make them differ (see `mayDifferInPython`): most bodies cost one walk.
 *
 * @example
 * const policy = createCanonicalPolicy(config.peers, (domain, detail) => log.warn(detail));
 * signEnvelope(draft, key, { canonical: policy.formFor(draft.To, draft.Body) });
 */
export function createCanonicalPolicy(peers: Readonly<Record<string, { readonly canonical: CanonicalForm }>>, onUnknown: (domain: string, detail: string) => void): CanonicalPolicy {
  const warned = new Set<string>();
  return {
    formFor(to, body) {
      const domain = to.toLowerCase();
      const known = Object.hasOwn(peers, domain) ? peers[domain]!.canonical : undefined;
      if (known !== undefined) return known;
      if (!warned.has(domain) && body !== undefined && formsDiffer(body)) {
        warned.add(domain);
        onUnknown(domain, `the canonical form of ${domain} is unknown and this body's JCS and Python forms differ (non-integer numbers or keys outside the BMP): signing JCS; set directory["${domain}"].canonical to jcs or python`);
      }
      return 'jcs';
    },
  };
}

/** True when the Python form of `body` is not its JCS form (never for a string Body). */
export function formsDiffer(body: Envelope['Body'] | LosslessBody): boolean {
  const tree = body instanceof LosslessBody ? body.tree : body;
  if (typeof tree === 'string' || !mayDifferInPython(tree)) return false;
  const plain = body instanceof LosslessBody ? body.plain() : body;
  return pythonJson(body instanceof LosslessBody ? body.tree : toLossless(plain)) !== canonicalBodyJson(plain);
}
