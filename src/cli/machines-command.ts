import type { Command } from 'commander';
import type { AnyStateMachine } from 'xstate';
import { CliUsageError } from './io.ts';
import { printJson } from './output.ts';
import { startProgress } from './progress.ts';
import { TypeScriptModuleError } from '../errors.ts';
import { importUserModule } from '../user-module.ts';

interface ExportFlags {
  out: string;
  module?: string[];
  json?: boolean;
}

/** The XState machines a module exports (named exports and the default export), by export name. */
async function machinesOf(path: string): Promise<{ id: string; machine: AnyStateMachine }[]> {
  const { isStateMachine } = await import('../observability/machine-catalog.ts');
  let mod: Record<string, unknown>;
  try {
    mod = await importUserModule(path);
  } catch (cause) {
    if (cause instanceof TypeScriptModuleError) throw cause;
    throw new CliUsageError(`cannot load ${path}: ${cause instanceof Error ? cause.message : String(cause)}`);
  }
  const found = Object.entries(mod).filter((entry): entry is [string, AnyStateMachine] => isStateMachine(entry[1]));
  if (found.length === 0) throw new CliUsageError(`${path} exports no XState machine`, 'export the result of createMachine (or setup().createMachine)');
  return found.map(([name, machine]) => ({ id: machine.id && machine.id !== '(machine)' ? machine.id : name, machine }));
}

/** `mailroom machines list | export`: the machines the runtime runs, for Stately's editor and visualiser. */
export function registerMachinesCommand(program: Command): void {
  const machines = program.command('machines').description('the XState machines the runtime runs: list them, export them for Stately');
  machines
    .command('list')
    .description('the machines the runtime runs, with their states')
    .option('--json', 'print JSON')
    .action(async (flags: { json?: boolean }) => {
      const { runtimeMachines } = await import('../observability/machine-catalog.ts');
      if (flags.json) return printJson(runtimeMachines.map((m) => ({ id: m.id, description: m.description, states: Object.keys(m.machine.root.states) })));
      for (const m of runtimeMachines) process.stdout.write(`${m.id.padEnd(14)} ${m.description}\n${' '.repeat(15)}states: ${Object.keys(m.machine.root.states).join(', ')}\n`);
    });
  machines
    .command('export')
    .description('write every machine as JSON (<id>.json) and as createMachine code (<id>.stately.js) that Stately imports')
    .option('--out <dir>', 'where to write them', 'stately-machines')
    .option('--module <file>', 'also export the machines a module of yours exports (e.g. your workflows); repeat for several', (value: string, previous: string[] | undefined) => [...(previous ?? []), value])
    .option('--json', 'print what was written as JSON')
    .addHelpText('after', '\nExamples:\n  mailroom machines export --out machines-json\n  mailroom machines export --module ./workflows/order.machine.ts\n')
    .action(async (flags: ExportFlags) => {
      const { runtimeMachines } = await import('../observability/machine-catalog.ts');
      const { exportMachines } = await import('../observability/machine-export.ts');
      const list: { id: string; machine: AnyStateMachine }[] = [...runtimeMachines];
      for (const path of flags.module ?? []) list.push(...(await machinesOf(path)));
      const ids = new Set<string>();
      for (const { id } of list) {
        if (ids.has(id)) throw new CliUsageError(`two machines have the id ${JSON.stringify(id)}`, 'give each machine its own id (createMachine({ id: ... }))');
        ids.add(id);
      }
      const progress = await startProgress('exporting', list.length, flags);
      let written: Awaited<ReturnType<typeof exportMachines>>;
      try {
        written = [];
        // One at a time, so the bar moves; each call writes the files of the machines it gets.
        for (const machine of list) {
          written.push(...(await exportMachines(flags.out, [machine])));
          progress.tick(machine.id);
        }
      } finally {
        progress.stop();
      }
      if (flags.json) return printJson(written);
      for (const w of written) process.stdout.write(`${w.id}: ${w.json}, ${w.code}\n`);
    });
}
