import type { AnyActorRef, InspectionEvent } from 'xstate';
import { InspectionFilterError } from '../errors.ts';
import { isWorkflowActor } from './workflow-inspection.ts';

/** Which envelopes to inspect. Values of one key are alternatives; different keys must all match. `*` is a wildcard. */
export interface InspectionFilter {
  /** Matches the envelope's sender or recipient. */
  readonly domain?: readonly string[];
  readonly subject?: readonly string[];
  readonly correlation?: readonly string[];
}

const KEYS = ['domain', 'subject', 'correlation'] as const;

/**
 * Parses `domain=shop.example,subject=Hello@Host` (the `--inspect-filter` flag). A key may
 * repeat (`subject=A,subject=B`: either); `*` matches any run of characters.
 */
export function parseInspectionFilter(text: string): InspectionFilter {
  const filter: Record<string, string[]> = {};
  for (const part of text.split(',').map((p) => p.trim()).filter(Boolean)) {
    const at = part.indexOf('=');
    const key = at > 0 ? part.slice(0, at).trim() : '';
    const value = at > 0 ? part.slice(at + 1).trim() : '';
    if (!(KEYS as readonly string[]).includes(key) || !value) {
      throw new InspectionFilterError(part);
    }
    (filter[key] ??= []).push(value);
  }
  return filter;
}

const matcher = (patterns: readonly string[] | undefined): ((value: string | undefined) => boolean) | undefined => {
  if (!patterns?.length) return undefined;
  const regexes = patterns.map((p) => new RegExp(`^${p.split('*').map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`));
  return (value) => value !== undefined && regexes.some((r) => r.test(value));
};

/** What the filter reads of an envelope actor: its input. */
interface EnvelopeFields {
  readonly from?: string;
  readonly to?: string;
  readonly subject?: string;
  readonly correlation?: string;
}

/** The fields an actor exposes to the filter. */
type InspectedActor = AnyActorRef & { readonly _parent?: InspectedActor; readonly options?: { readonly input?: unknown } };

/**
 * The actor an inspection event is about, as seen from the root: the envelope actor for
 * its own events and for those of any actor below it (the envelope machine's steps are
 * entry actions, not child actors, but a machine that invokes some is filtered the same).
 * Undefined for the root actor itself.
 */
function topActorOf(actor: InspectedActor | undefined): InspectedActor | undefined {
  let current = actor;
  while (current?._parent?._parent) current = current._parent;
  return current?._parent ? current : undefined;
}

/** A compiled filter: which inspection events to pass on. */
export interface InspectionPredicate {
  /** True for the events of matching envelope actors (and the root actor's registration). */
  (event: InspectionEvent): boolean;
}

/**
 * Compiles a filter into a predicate over XState inspection events. Only `@xstate.actor`,
 * `@xstate.event` and `@xstate.snapshot` pass (what Stately Inspector shows); decisions are
 * cached per actor, so a busy runtime pays one check per envelope. Workflows' events pass
 * whatever the filter says: it selects envelopes.
 */
export function inspectionPredicate(filter: InspectionFilter = {}): InspectionPredicate {
  const domain = matcher(filter.domain);
  const subject = matcher(filter.subject);
  const correlation = matcher(filter.correlation);
  const everything = !domain && !subject && !correlation;
  const decided = new WeakMap<object, boolean>();
  const accepts = (fields: EnvelopeFields) =>
    (!domain || domain(fields.from) || domain(fields.to)) && (!subject || subject(fields.subject)) && (!correlation || correlation(fields.correlation));

  return (event) => {
    if (event.type !== '@xstate.actor' && event.type !== '@xstate.event' && event.type !== '@xstate.snapshot') return false;
    // The filter is about envelopes: a workflow's events (synthetic, see workflow-inspection.ts) always pass.
    if (isWorkflowActor(event.actorRef)) return true;
    const target = event.actorRef as InspectedActor;
    // Events sent to the root (an envelope actor's done event) are about their source.
    const about = topActorOf(target) ?? (event.type === '@xstate.event' ? topActorOf(event.sourceRef as InspectedActor | undefined) : undefined);
    if (!about) return event.type === '@xstate.actor' || everything;
    if (everything) return true;
    let verdict = decided.get(about);
    if (verdict === undefined) {
      const input = about.options?.input;
      verdict = typeof input === 'object' && input !== null && accepts(input as EnvelopeFields);
      decided.set(about, verdict);
    }
    return verdict;
  };
}
