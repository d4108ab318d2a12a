import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { AnyStateMachine } from 'xstate';

/** A JSON value: what a machine config becomes once its functions are gone. */
type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** Keys whose function values name an implementation: kept as `{ type: name }`, as the inspector shows them. */
const IMPLEMENTATION_KEYS = new Set(['actions', 'entry', 'exit', 'guard']);

function implementationName(fn: (...args: never[]) => unknown): Json {
  return { type: fn.name && fn.name !== 'anonymous' ? fn.name : 'inline' };
}

function toJson(value: unknown, key: string | undefined): Json | undefined {
  // An inline actor (`invoke: { src: fromPromise(...) }`) has no name the editor could use.
  if (key === 'src' && typeof value !== 'string') return 'inline';
  if (typeof value === 'function') return key !== undefined && IMPLEMENTATION_KEYS.has(key) ? implementationName(value as () => unknown) : undefined;
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return value;
  if (typeof value === 'number') return Number.isFinite(value) ? value : String(value);
  if (Array.isArray(value)) return value.map((item) => (typeof item === 'function' ? implementationName(item as () => unknown) : (toJson(item, key) ?? null)));
  if (typeof value === 'object') {
    const out: Record<string, Json> = {};
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      const converted = toJson(v, k);
      if (converted !== undefined) out[k] = converted;
    }
    return out;
  }
  return undefined;
}

/**
 * A machine's config as plain JSON, the form Stately's visualiser and inspector read (it is
 * what `@statelyai/inspect` sends as an actor's definition), and the object the Stately
 * editor imports when wrapped in `createMachine(...)`. Named implementations stay as their
 * names (`guard: { type: 'isFinalFailure' }`); functions that only compute values (context,
 * input, output, action params) are left out.
 *
 * @example
 * ```ts
 * const json = machineToStatelyJson(envelopeMachine);
 * createMachine(json); // the same states and transitions, without implementations
 * ```
 */
export function machineToStatelyJson(machine: AnyStateMachine): Record<string, Json> {
  const json = toJson(machine.config, undefined);
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new Error(`machine ${machine.id} has no config object`);
  return json;
}

/** What the Stately editor's "Import from code" accepts: a `createMachine({...})` call. */
export function statelyImportCode(machine: AnyStateMachine): string {
  return `// ${machine.id}: paste into the Stately editor (Code panel → Import), or run it with xstate.\ncreateMachine(${JSON.stringify(machineToStatelyJson(machine), null, 2)});\n`;
}

/** One machine written by {@link exportMachines}. */
export interface ExportedMachine {
  readonly id: string;
  readonly json: string;
  readonly code: string;
}

/**
 * Writes each machine as `<id>.json` (the config as JSON) and `<id>.stately.js` (the same
 * wrapped in `createMachine`, for the editor's import) into `dir`.
 */
export async function exportMachines(dir: string, machines: readonly { readonly id: string; readonly machine: AnyStateMachine }[]): Promise<ExportedMachine[]> {
  await mkdir(dir, { recursive: true });
  const written: ExportedMachine[] = [];
  for (const { id, machine } of machines) {
    const file = id.replace(/[^\w.-]/g, '_');
    const json = join(dir, `${file}.json`);
    const code = join(dir, `${file}.stately.js`);
    await writeFile(json, `${JSON.stringify(machineToStatelyJson(machine), null, 2)}\n`);
    await writeFile(code, statelyImportCode(machine));
    written.push({ id, json, code });
  }
  return written;
}
