import { createHash } from 'node:crypto';
import canonicalize from 'canonicalize';
import type { AnyStateMachine } from 'xstate';

/**
 * A version for a machine that declares none: the first 12 hex digits of the SHA-256 of its
 * definition (states, transitions, events, delays, invoked sources, action and guard names) in
 * canonical JSON. It changes when the chart changes. Code inside inline functions (an `assign`,
 * a guard) is not part of it: when only that changes in a way old snapshots cannot follow,
 * declare a `version` yourself.
 */
export function machineVersion(machine: AnyStateMachine): string {
  const json = canonicalize(JSON.parse(JSON.stringify(machine.root.definition)) as object) ?? '';
  return createHash('sha256').update(json).digest('hex').slice(0, 12);
}
