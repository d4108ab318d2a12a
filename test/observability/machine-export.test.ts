/** `mailroom machines export`: every runtime machine as JSON that xstate (and so Stately) reads back. */
import { describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createMachine, type AnyStateMachine } from 'xstate';
import { envelopeMachine, envelopeStateNames } from '../../machines/envelope.machine.ts';
import { conversationMachine, conversationStateNames } from '../../machines/conversation.machine.ts';
import { machineToStatelyJson } from '../../src/observability/machine-export.ts';

const bin = fileURLToPath(new URL('../../bin/mailroom.js', import.meta.url));
const cli = (args: string[]) =>
  new Promise<{ code: number; stdout: string; stderr: string }>((resolve) =>
    execFile(process.execPath, [bin, ...args], (error, stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr })),
  );

/** Each state's transitions as `event → target [guard]`, the shape Stately draws. */
function transitionsOf(machine: AnyStateMachine): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const [key, node] of Object.entries(machine.root.states)) {
    const definitions = [...[...node.transitions.values()].flat(), ...(node.always ?? [])];
    out[key] = definitions.map((t) => {
      const guard = typeof t.guard === 'object' && t.guard !== null ? (t.guard as { type: string }).type : (t.guard as string | undefined);
      return `${t.eventType || 'always'} → ${(t.target ?? []).map((n) => n.key).join(',')}${guard ? ` [${guard}]` : ''}`;
    });
  }
  return out;
}

describe('machine export', () => {
  it('round-trips the envelope machine: JSON that createMachine turns back into the same states and transitions', () => {
    const json = JSON.parse(JSON.stringify(machineToStatelyJson(envelopeMachine))) as Record<string, unknown>;
    expect(json).toMatchObject({ id: 'envelope', initial: 'received' });
    expect(Object.keys(json.states as object)).toEqual([...envelopeStateNames]);
    const again = createMachine(json as never);
    expect(Object.keys(again.root.states)).toEqual([...envelopeStateNames]);
    expect(transitionsOf(again)).toEqual(transitionsOf(envelopeMachine));
    expect(Object.entries(again.root.states).filter(([, n]) => n.type === 'final').map(([k]) => k)).toEqual(['replied', 'feedbackSent', 'noFeedback', 'retrying', 'deadLettered']);
    // Implementations stay as names; value functions (context, input, params) are gone.
    const validating = (json.states as Record<string, { entry: { type: unknown; params?: unknown }; on: Record<string, { guard?: unknown }[]> }>).validating!;
    expect(validating.entry).toEqual({ type: 'validate' });
    expect(validating.on['validate.done']![0]!.guard).toEqual({ type: 'validationPassed' });
    expect(json.context).toBeUndefined();
  });

  it('writes every machine with `mailroom machines export --out DIR`, and a module\'s machines with --module', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mailroom-export-'));
    const module = join(dir, 'workflow.mjs');
    // A user's module resolves xstate from their project; this temp one names the repository's copy.
    await writeFile(module, `import { createMachine } from '${import.meta.resolve('xstate')}';\n` + "export const orderWorkflow = createMachine({ id: 'order', initial: 'open', states: { open: { on: { pay: 'paid' } }, paid: { type: 'final' } } });\nexport const notAMachine = 42;\n");
    const out = join(dir, 'out');
    const result = await cli(['machines', 'export', '--out', out, '--module', module]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect((await readdir(out)).sort()).toEqual(['conversation.json', 'conversation.stately.js', 'envelope.json', 'envelope.stately.js', 'order.json', 'order.stately.js']);
    const envelope = JSON.parse(await readFile(join(out, 'envelope.json'), 'utf8')) as { states: object };
    expect(Object.keys(envelope.states)).toEqual([...envelopeStateNames]);
    const conversation = JSON.parse(await readFile(join(out, 'conversation.json'), 'utf8')) as { states: object };
    expect(Object.keys(conversation.states)).toEqual([...conversationStateNames]);
    expect(transitionsOf(createMachine(conversation as never))).toEqual(transitionsOf(conversationMachine));
    expect(JSON.parse(await readFile(join(out, 'order.json'), 'utf8'))).toEqual({ id: 'order', initial: 'open', states: { open: { on: { pay: 'paid' } }, paid: { type: 'final' } } });
    // The editor's import wants a createMachine call.
    const code = await readFile(join(out, 'envelope.stately.js'), 'utf8');
    expect(code).toMatch(/^\/\/ envelope: .*\ncreateMachine\(\{/);
    expect(JSON.parse(code.slice(code.indexOf('createMachine(') + 'createMachine('.length, code.lastIndexOf(')')))).toEqual(envelope);
  });

  it('says when a module has no machine', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mailroom-export-'));
    await writeFile(join(dir, 'empty.mjs'), 'export const x = 1;\n');
    const result = await cli(['machines', 'export', '--out', join(dir, 'out'), '--module', join(dir, 'empty.mjs')]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('exports no XState machine');
  });
});
