/**
 * The workflow kinds this process runs: every registered version of each name, the latest of
 * which starts new workflows, and how a stored record finds the version it runs on.
 */
import type { AnyStateMachine } from 'xstate';
import { machineVersion } from './machine-version.ts';
import { InvalidWorkflowInputError } from './workflow-errors.ts';
import { jsonCopy, message, type WorkflowRecord } from './workflow-record.ts';
import type { PersistedWorkflowSnapshot, RegisteredWorkflow, WorkflowOptions } from './workflow-types.ts';

/** One registered version of a workflow kind. */
export interface WorkflowDefinition extends RegisteredWorkflow {
  readonly options: WorkflowOptions;
}

/** A workflow kind: its versions by version string, and the one registered last. */
export interface WorkflowKind {
  readonly name: string;
  readonly versions: ReadonlyMap<string, WorkflowDefinition>;
  readonly latest: WorkflowDefinition;
}

/** The definition a record runs on (with its snapshot, migrated if it had to be), or why there is none. */
export type ResolvedDefinition = { readonly definition: WorkflowDefinition; readonly snapshot: PersistedWorkflowSnapshot; readonly migratedFrom?: string } | { readonly reason: string };

/** The name and version a machine registers as: `options`, else the machine's `id` and a hash of its definition. */
export function registrationOf(machine: AnyStateMachine, options: WorkflowOptions = {}): RegisteredWorkflow {
  const name = options.name ?? machine.id;
  if (!name) throw new InvalidWorkflowInputError('a workflow needs a name: give the machine an id or pass { name }');
  return { name, version: options.version ?? machineVersion(machine), machine };
}

/** The registered workflow kinds, by name. */
export class WorkflowRegistry {
  readonly #kinds = new Map<string, { name: string; versions: Map<string, WorkflowDefinition>; latest: WorkflowDefinition }>();

  /** Adds a version (or replaces one of the same version string); it becomes the latest. */
  add(machine: AnyStateMachine, options: WorkflowOptions = {}): WorkflowDefinition {
    const { name, version } = registrationOf(machine, options);
    const definition: WorkflowDefinition = { name, version, machine, options };
    const kind = this.#kinds.get(name);
    if (kind) {
      kind.versions.set(version, definition);
      kind.latest = definition;
    } else {
      this.#kinds.set(name, { name, versions: new Map([[version, definition]]), latest: definition });
    }
    return definition;
  }

  kind(name: string): WorkflowKind | undefined {
    return this.#kinds.get(name);
  }

  /** The names registered, in the order of their first registration. */
  names(): string[] {
    return [...this.#kinds.keys()];
  }

  registered(): RegisteredWorkflow[] {
    return [...this.#kinds.values()].map(({ latest: { name, version, machine } }) => ({ name, version, machine }));
  }
}

/** The definition a record runs on: its own version, one compatible with it, or a migration to one. */
export function resolveDefinition(kind: WorkflowKind | undefined, record: Pick<WorkflowRecord, 'name' | 'version' | 'snapshot'>): ResolvedDefinition {
  if (!kind) return { reason: `no workflow named ${record.name} is registered in this process` };
  const versions = kind.versions;
  const exact = versions.get(record.version);
  if (exact) return { definition: exact, snapshot: record.snapshot };
  const candidates = [...versions.values()].reverse();
  for (const definition of candidates) if (definition.options.compatibleWith?.includes(record.version)) return { definition, snapshot: record.snapshot };
  for (const definition of candidates) {
    const migrate = definition.options.migrations?.[record.version];
    if (!migrate) continue;
    try {
      return { definition, snapshot: jsonCopy(migrate(structuredClone(record.snapshot)), 'a migrated snapshot'), migratedFrom: record.version };
    } catch (error) {
      return { reason: `the migration of ${record.name} from version ${record.version} to ${definition.version} threw: ${message(error)}` };
    }
  }
  const known = [...versions.keys()].join(', ');
  return {
    reason: `its version ${record.version} of ${record.name} is not registered (registered: ${known}), and none of those declares it compatible or migrates from it`,
  };
}
