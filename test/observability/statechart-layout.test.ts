/**
 * The dashboard's statechart layout (elkjs, layered): every state placed once without overlap,
 * nested states inside their parent, every transition labelled and routed around the boxes it
 * does not connect, the final style on final states only.
 */
import { describe, expect, it } from 'vitest';
import { createMachine, type AnyStateMachine } from 'xstate';
import { conversationMachine } from '../../machines/conversation.machine.ts';
import { envelopeMachine } from '../../machines/envelope.machine.ts';
import { runtimeMachines } from '../../src/observability/machine-catalog.ts';
import { layoutStatechart, type LaidOutState, type StatechartLayout } from '../../src/observability/dashboard/statechart-layout.ts';
import { renderStatechartSvg, statechartSvg } from '../../src/observability/dashboard/statechart-svg.ts';

type Box = { x: number; y: number; width: number; height: number };
const overlaps = (a: Box, b: Box) => a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;
const inside = (inner: Box, outer: Box) => inner.x >= outer.x && inner.y >= outer.y && inner.x + inner.width <= outer.x + outer.width && inner.y + inner.height <= outer.y + outer.height;

/** True when the axis-parallel segment p–q passes through the inside of the box (its border shrunk by 1). */
function segmentCrosses(p: { x: number; y: number }, q: { x: number; y: number }, box: Box): boolean {
  const [x1, x2] = [Math.min(p.x, q.x), Math.max(p.x, q.x)];
  const [y1, y2] = [Math.min(p.y, q.y), Math.max(p.y, q.y)];
  return x2 > box.x + 1 && x1 < box.x + box.width - 1 && y2 > box.y + 1 && y1 < box.y + box.height - 1;
}

const ancestorsOf = (id: string) => id.split('.').map((_, i, parts) => parts.slice(0, i + 1).join('.'));

/** Each transition against each state box, except the boxes of its ends and their ancestors. */
function crossings(layout: StatechartLayout): string[] {
  const found: string[] = [];
  for (const t of layout.transitions) {
    const ends = new Set([...ancestorsOf(t.from), ...ancestorsOf(t.to)]);
    for (const s of layout.states) {
      if (ends.has(s.id)) continue;
      for (let i = 1; i < t.points.length; i++) if (segmentCrosses(t.points[i - 1]!, t.points[i]!, s)) found.push(`${t.from}→${t.to} through ${s.id}`);
      if (!s.compound && overlaps(t.label, s)) found.push(`label of ${t.from}→${t.to} on ${s.id}`);
    }
  }
  return found;
}

/** Every targeted transition of a machine, as `from>to` by state path (edges to or from a state's own descendants excepted). */
function targetedTransitions(machine: AnyStateMachine): Set<string> {
  const out = new Set<string>();
  const walk = (node: AnyStateMachine['root']) => {
    for (const child of Object.values(node.states)) {
      const from = child.path.join('.');
      for (const t of [...[...child.transitions.values()].flat(), ...(child.always ?? [])]) {
        for (const target of t.target ?? []) {
          const to = target.path.join('.');
          if (!to.startsWith(`${from}.`) && !from.startsWith(`${to}.`)) out.add(`${from}>${to}`);
        }
      }
      walk(child);
    }
  };
  walk(machine.root);
  return out;
}

const door = createMachine({
  id: 'door',
  initial: 'closed',
  states: {
    closed: { on: { open: 'opened', lock: 'locked' } },
    locked: { on: { unlock: 'closed' } },
    opened: {
      initial: 'still',
      states: { still: { on: { swing: 'swinging' } }, swinging: { on: { stop: 'still', close: '#door.closed' }, after: { 5000: 'still' } } },
      on: { slam: 'broken' },
    },
    broken: { type: 'final' },
  },
});

describe('statechart layout (elk)', () => {
  const envelope = runtimeMachines.find((m) => m.id === 'envelope')!;

  it('lays out the envelope machine: states apart, every transition labelled, no edge or label through a box', async () => {
    const layout = await layoutStatechart(envelope.machine, envelope);
    const at = new Map(layout.states.map((s) => [s.id, s]));
    expect(layout.states.map((s) => s.id)).toEqual(Object.keys(envelopeMachine.root.states));
    for (const a of layout.states) for (const b of layout.states) if (a !== b) expect(overlaps(a, b), `${a.id} / ${b.id}`).toBe(false);
    for (const s of layout.states) expect(inside(s, { x: 0, y: 0, width: layout.width, height: layout.height }), s.id).toBe(true);
    expect(at.get('received')!.initial).toBe(true);
    // Top to bottom from the initial state.
    expect(at.get('received')!.y).toBeLessThan(at.get('queued')!.y);
    expect(at.get('validating')!.y).toBeLessThan(at.get('handling')!.y);
    expect(at.get('replying')!.y).toBeLessThan(at.get('replied')!.y);
    const drawn = new Set(layout.transitions.filter((t) => t.kind !== 'redelivery').map((t) => `${t.from}>${t.to}`));
    expect(drawn).toEqual(targetedTransitions(envelopeMachine));
    for (const t of layout.transitions) {
      expect(t.labels.length, `${t.from}→${t.to}`).toBeGreaterThan(0);
      for (const label of t.labels) expect(label.trim(), `${t.from}→${t.to}`).not.toBe('');
      expect(t.points.length).toBeGreaterThanOrEqual(2);
    }
    expect(layout.transitions.find((t) => t.from === 'validating' && t.to === 'handling')!.labels).toEqual(['validate.done [validationPassed]']);
    expect(layout.transitions.find((t) => t.from === 'received' && t.to === 'queued')!.labels).toEqual(['always']);
    expect(crossings(layout)).toEqual([]);
    expect(at.get('validating')!.invokes).toEqual(['validate']);
    expect(at.get('discarded')!.invokes).toEqual(['sendFeedback']);
  });

  it('gives the final style to type: final states only, and draws retrying as a resting state the runtime redelivers from', async () => {
    const layout = await layoutStatechart(envelope.machine, envelope);
    const finals = Object.values(envelopeMachine.root.states).filter((n) => n.type === 'final').map((n) => n.key);
    const styled = layout.states.filter((s) => s.final).map((s) => s.id);
    for (const id of styled) expect(finals).toContain(id);
    expect(styled).toEqual(['replied', 'feedbackSent', 'noFeedback', 'deadLettered']);
    const retrying = layout.states.find((s) => s.id === 'retrying')!;
    expect(retrying.final).toBe(false);
    expect(retrying.resting).toBe(true);
    expect(layout.transitions.find((t) => t.kind === 'redelivery')).toMatchObject({ from: 'retrying', to: 'received', labels: ['redelivered'] });
    const svg = renderStatechartSvg(layout);
    expect(svg).toMatch(/<g class="state resting" data-state="retrying">/);
    expect(svg).not.toMatch(/class="state final[^"]*" data-state="retrying"/);
    expect(svg).toMatch(/<g class="state final" data-state="replied">/);
    // Only a final state has the inner (double) border.
    expect(svg.match(/class="inner"/g)).toHaveLength(4);
  });

  it('draws nested states inside their parent, with transitions to and from them, routed around other boxes', async () => {
    const layout = await layoutStatechart(door);
    const at = new Map(layout.states.map((s) => [s.id, s]));
    expect([...at.keys()]).toEqual(['closed', 'locked', 'opened', 'opened.still', 'opened.swinging', 'broken']);
    expect(at.get('opened')!.compound).toBe(true);
    expect(at.get('opened.still')).toMatchObject({ key: 'still', parent: 'opened', initial: true });
    expect(inside(at.get('opened.still')!, at.get('opened')!)).toBe(true);
    expect(inside(at.get('opened.swinging')!, at.get('opened')!)).toBe(true);
    expect(layout.transitions.map((t) => `${t.from}>${t.to}:${t.labels.join()}`).sort()).toEqual(
      ['closed>locked:lock', 'closed>opened:open', 'locked>closed:unlock', 'opened.still>opened.swinging:swing', 'opened.swinging>closed:close', 'opened.swinging>opened.still:after 5000ms', 'opened.swinging>opened.still:stop', 'opened>broken:slam'].sort(),
    );
    expect(crossings(layout)).toEqual([]);
    expect(layout.states.filter((s: LaidOutState) => s.final).map((s) => s.id)).toEqual(['broken']);
    expect(layout.initials.map((i) => i.to).sort()).toEqual(['closed', 'opened.still']);
  });

  it('lays every runtime machine out without a crossing, and caches the layout per machine', async () => {
    for (const m of runtimeMachines) expect(crossings(await layoutStatechart(m.machine, m)), m.id).toEqual([]);
    expect(layoutStatechart(conversationMachine)).toBe(layoutStatechart(conversationMachine));
    expect(await statechartSvg(conversationMachine)).toBe(await statechartSvg(conversationMachine));
  });

  it('starts on the left, where a narrow screen looks first', async () => {
    for (const m of runtimeMachines) {
      const layout = await layoutStatechart(m.machine, m);
      const start = layout.states.find((s) => s.initial && s.parent === undefined)!;
      expect(start.x + start.width / 2, m.id).toBeLessThanOrEqual(layout.width / 2);
    }
  });

  it('draws self-transitions and parallel regions, labelled and clear of other boxes', async () => {
    const player = createMachine({
      id: 'player',
      type: 'parallel',
      states: {
        sound: { initial: 'on', states: { on: { on: { mute: 'off', ping: 'on' } }, off: { on: { unmute: 'on' } } } },
        video: { initial: 'playing', states: { playing: { on: { pause: 'paused' } }, paused: { on: { play: 'playing', stop: 'stopped' } }, stopped: { type: 'final' } } },
      },
    });
    const layout = await layoutStatechart(player);
    expect(layout.states.map((s) => s.id)).toEqual(['sound', 'sound.on', 'sound.off', 'video', 'video.playing', 'video.paused', 'video.stopped']);
    const self = layout.transitions.find((t) => t.from === 'sound.on' && t.to === 'sound.on')!;
    expect(self.labels).toEqual(['ping']);
    expect(self.points.length).toBeGreaterThanOrEqual(2);
    expect(crossings(layout)).toEqual([]);
    expect(layout.states.filter((s) => s.final).map((s) => s.id)).toEqual(['video.stopped']);
  });

  it('scales: a viewBox, and the SVG carries its own style', async () => {
    const svg = await statechartSvg(door);
    expect(svg).toMatch(/^<svg [^>]*viewBox="0 0 \d+ \d+"/);
    expect(svg).toContain('<style>');
    expect(svg).toContain('data-from="closed" data-to="opened"');
  });

  it('escapes names in the SVG', async () => {
    const machine = createMachine({ id: 'x<y>', initial: 'a&b', states: { 'a&b': { on: { '<go>': 'c"d' } }, 'c"d': { type: 'final' } } });
    const svg = renderStatechartSvg(await layoutStatechart(machine));
    expect(svg).not.toMatch(/<go>|a&b|c"d/);
    expect(svg).toContain('a&#38;b');
  });
});
