import { z } from 'zod';
import { count, DomainName } from './config-fields.ts';

/** The schema tag of a manifest, as the reference writes it. */
export const MANIFEST_SCHEMA = 'pollyweb.org/MANIFEST:1.0';
/** The subject of the protocol's manifest request, answered synchronously with the manifest. */
export const MANIFEST_SUBJECT = 'Manifest@Domain';

/**
 * A hosted domain's `manifest:` in the config, the reference's `MANIFEST` schema: `About`
 * (`Domain`, `Feedback`, `Title`, …) and whatever else the reference's manifests hold
 * (`Trusts`, …), kept as written. Every field is optional; see {@link manifestOf} for the
 * defaults.
 */
export const ManifestConfig = z.looseObject({
  '🤝': z.string().min(1).optional(),
  About: z
    .looseObject({
      Domain: DomainName.optional(),
      Feedback: DomainName.optional(),
      Title: z.string().optional(),
    })
    .optional(),
});
export type ManifestConfig = z.output<typeof ManifestConfig>;

/** A manifest as served and read: the schema tag and `About.Domain` always there. */
export interface Manifest {
  readonly '🤝': string;
  readonly About: { readonly Domain: string; readonly Feedback?: string; readonly [key: string]: unknown };
  readonly [key: string]: unknown;
}

/**
 * The manifest of a hosted domain: the one configured, with the reference's defaults
 * (`🤝: pollyweb.org/MANIFEST:1.0`, `About.Domain` the domain itself), and `About.Feedback`
 * from the domain's `feedback` when the manifest names none.
 */
export function manifestOf(domain: { readonly name: string; readonly feedback?: string | undefined; readonly manifest?: ManifestConfig | undefined }): Manifest {
  const configured = domain.manifest ?? {};
  const about = configured.About ?? {};
  const feedback = about.Feedback ?? domain.feedback;
  return {
    ...configured,
    '🤝': configured['🤝'] ?? MANIFEST_SCHEMA,
    About: { ...about, Domain: about.Domain ?? domain.name, ...(feedback !== undefined ? { Feedback: feedback } : {}) },
  };
}

/**
 * A hosted domain's `publicSubjects`: the subjects that accept unsigned envelopes (and those from
 * `Anonymous` or a wallet UUID); absent: `[Manifest@Domain]`. `Manifest@Domain` is answered at
 * once; any other public subject is queued and handled as unverified (`verified: false`).
 */
export const PublicSubjects = z.array(z.string().min(1)).optional();

/** The subjects of a hosted domain that accept unsigned (Anonymous) envelopes. */
export function publicSubjectsOf(domain: { readonly publicSubjects?: readonly string[] | undefined }): readonly string[] {
  return domain.publicSubjects ?? [MANIFEST_SUBJECT];
}

/** The public subjects of every hosted domain, by name (the inbox and the validator ask it). */
export function publicSubjectMap(domains: readonly { readonly name: string; readonly publicSubjects?: readonly string[] | undefined }[]): Readonly<Record<string, readonly string[]>> {
  return Object.fromEntries(domains.map((d) => [d.name, publicSubjectsOf(d)]));
}

/**
 * `manifestGraph`: a graph domain asked for a sender's manifest (its feedback buffer) before the
 * sender itself, with the same unsigned `Manifest@Domain` request, POSTed to the graph's inbox
 * (its `directory` entry, else `https://pw.{graph}/inbox`).
 */
export const ManifestGraph = DomainName.optional();

/**
 * `publicLimit`: how many unproven envelopes (unsigned, Anonymous, wallet) to public subjects
 * other than the manifest request `POST /inbox` stores, per client address (`rate` a second,
 * `burst` at once) and from all clients together (`totalRate`, `totalBurst`), in each process.
 * Over it: 429 + Retry-After, nothing stored. Signed traffic is not counted. Defaults: 10 a
 * second, 20 at once, per client; 100 a second, 200 at once in total.
 */
export const PublicLimit = z
  .strictObject({
    rate: z.number().positive({ error: 'must be > 0' }).optional(),
    burst: count(1).optional(),
    totalRate: z.number().positive({ error: 'must be > 0' }).optional(),
    totalBurst: count(1).optional(),
  })
  .optional();

/** The manifest part of a domain entry, checked against its name. */
export const domainManifestFields = {
  manifest: ManifestConfig.optional(),
  publicSubjects: PublicSubjects,
};

/**
 * A manifest that names another domain, or a buffer other than the domain's `feedback`, is a
 * mistake in the config. So is `Feedback@Buffer` as a public subject: feedback is never
 * answered, and an unsigned one would only be noise.
 */
export function checkDomainManifest(
  d: { name: string; feedback?: string | undefined; manifest?: ManifestConfig | undefined; publicSubjects?: readonly string[] | undefined },
  ctx: z.RefinementCtx,
): void {
  d.publicSubjects?.forEach((subject, index) => {
    if (subject === 'Feedback@Buffer') ctx.addIssue({ code: 'custom', message: 'Feedback@Buffer cannot be a public subject: feedback must be signed', path: ['publicSubjects', index] });
  });
  const about = d.manifest?.About;
  if (about?.Domain !== undefined && about.Domain !== d.name) ctx.addIssue({ code: 'custom', message: `the manifest of ${d.name} names another domain (${about.Domain})`, path: ['manifest', 'About', 'Domain'] });
  if (about?.Feedback !== undefined && d.feedback !== undefined && about.Feedback !== d.feedback) {
    ctx.addIssue({ code: 'custom', message: `feedback (${d.feedback}) and manifest.About.Feedback (${about.Feedback}) differ: keep one`, path: ['manifest', 'About', 'Feedback'] });
  }
}
