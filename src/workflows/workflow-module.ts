import type { AnyStateMachine } from 'xstate';
import { ConfigError, TypeScriptModuleError } from '../errors.ts';
import { importUserModule } from '../user-module.ts';
import type { WorkflowOptions } from './workflow-types.ts';

/** A workflow kind as a module gives it. */
export interface WorkflowModuleEntry {
  readonly machine: AnyStateMachine;
  readonly options?: WorkflowOptions;
}

const isMachine = (value: unknown): value is AnyStateMachine =>
  typeof value === 'object' && value !== null && typeof (value as { transition?: unknown }).transition === 'function' && typeof (value as { getInitialSnapshot?: unknown }).getInitialSnapshot === 'function' && 'root' in value;

/**
 * Loads a workflow module named in the config's `workflows:` list. Its `workflows` export (or
 * its default export) is a machine, `{ machine, options }`, or a list of those.
 */
export async function loadWorkflowModule(path: string): Promise<WorkflowModuleEntry[]> {
  let mod: { default?: unknown; workflows?: unknown };
  try {
    mod = (await importUserModule(path)) as typeof mod;
  } catch (cause) {
    if (cause instanceof TypeScriptModuleError) throw cause;
    throw new ConfigError(`cannot load the workflow module ${path}: ${cause instanceof Error ? cause.message : String(cause)}`, [], { cause });
  }
  const exported = mod.workflows ?? mod.default;
  const list = Array.isArray(exported) ? exported : [exported];
  return list.map((entry, index) => {
    if (isMachine(entry)) return { machine: entry };
    if (typeof entry === 'object' && entry !== null && isMachine((entry as { machine?: unknown }).machine)) return entry as WorkflowModuleEntry;
    throw new ConfigError(`${path}: export ${Array.isArray(exported) ? `workflows[${index}]` : 'workflows (or default)'} must be an XState machine or { machine, options }`);
  });
}
