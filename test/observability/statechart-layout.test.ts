/** The dashboard's statechart layout: every state placed once without overlap, every transition drawn. */
import { describe, expect, it } from 'vitest';
import { createMachine } from 'xstate';
import { envelopeMachine } from '../../machines/envelope.machine.ts';
import { layoutStatechart } from '../../src/observability/dashboard/statechart-layout.ts';
import { renderStatechartSvg } from '../../src/observability/dashboard/statechart-svg.ts';

const overlaps = (a: { x: number; y: number; width: number; height: number }, b: typeof a) =>
  a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;

describe('statechart layout', () => {
  it('lays the envelope machine out left to right from its initial state, with every transition', () => {
    const layout = layoutStatechart(envelopeMachine);
    const at = new Map(layout.states.map((s) => [s.id, s]));
    expect(layout.states.map((s) => s.id)).toEqual(Object.keys(envelopeMachine.root.states));
    for (const a of layout.states) for (const b of layout.states) if (a !== b) expect(overlaps(a, b), `${a.id} / ${b.id}`).toBe(false);
    expect(at.get('received')!.initial).toBe(true);
    expect(at.get('received')!.x).toBeLessThan(at.get('queued')!.x);
    expect(at.get('validating')!.x).toBeLessThan(at.get('handling')!.x);
    expect(at.get('replying')!.x).toBeLessThan(at.get('replied')!.x);
    expect(layout.states.filter((s) => s.final).map((s) => s.id)).toEqual(['replied', 'feedbackSent', 'noFeedback', 'retrying', 'deadLettered']);
    const edges = layout.transitions.map((t) => `${t.from}>${t.to}:${t.kind}`);
    expect(edges).toEqual(expect.arrayContaining(['received>queued:always', 'validating>handling:done', 'validating>discarded:done', 'handling>retrying:error', 'deadLettering>retrying:error', 'discarded>noFeedback:done']));
    expect(layout.transitions.find((t) => t.from === 'validating' && t.to === 'handling')!.labels).toEqual(['validate.done [validationPassed]']);
    // Each state's step is shown under its name.
    expect(at.get('validating')!.invokes).toEqual(['validate']);
    expect(at.get('discarded')!.invokes).toEqual(['sendFeedback']);
    expect(at.get('replied')!.invokes).toEqual([]);
    for (const s of layout.states) {
      expect(s.x + s.width).toBeLessThanOrEqual(layout.width);
      expect(s.y + s.height).toBeLessThanOrEqual(layout.height);
    }
  });

  it('folds nested states into their top-level state and draws a cycle backwards', () => {
    const machine = createMachine({
      id: 'door',
      initial: 'closed',
      states: {
        closed: { on: { open: 'opened' } },
        opened: { initial: 'still', states: { still: { on: { swing: 'swinging' } }, swinging: { on: { close: '#door.closed' } } } },
      },
    });
    const layout = layoutStatechart(machine);
    expect(layout.transitions.map((t) => `${t.from}>${t.to}:${t.labels.join()}`)).toEqual(['closed>opened:open', 'opened>closed:close']);
    const back = layout.transitions[1]!;
    // A backward edge swings under the nodes.
    expect(back.path).toMatch(/^M[\d.]+,[\d.]+ C[\d.]+,([\d.]+) /);
    const svg = renderStatechartSvg(layout);
    expect(svg).toContain('data-state="opened"');
    expect(svg).toContain('data-count="closed"');
  });

  it('escapes names in the SVG', () => {
    const machine = createMachine({ id: 'x<y>', initial: 'a&b', states: { 'a&b': { on: { '<go>': 'c"d' } }, 'c"d': { type: 'final' } } });
    const svg = renderStatechartSvg(layoutStatechart(machine));
    expect(svg).not.toMatch(/<go>|a&b|c"d/);
    expect(svg).toContain('a&#38;b');
  });
});
