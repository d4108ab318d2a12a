import type { AnyStateMachine, AnyStateNode } from 'xstate';

/**
 * How a transition is taken: on a step's or an actor's done event, its error event,
 * eventlessly, after a delay, or on another event. A step's result events are named
 * `<step>.done` and `<step>.failed` / `step.failed` (the envelope machine's convention).
 */
export type EdgeKind = 'done' | 'error' | 'always' | 'after' | 'event';

export interface LaidOutState {
  readonly id: string;
  readonly final: boolean;
  readonly initial: boolean;
  /** The state's work, shown under the name: its entry actions and its invoked actors' sources. */
  readonly invokes: readonly string[];
  readonly x: number;
  readonly y: number;
  readonly width: number;
  readonly height: number;
}

export interface LaidOutTransition {
  readonly from: string;
  readonly to: string;
  readonly kind: EdgeKind;
  /** Event and guard names, e.g. `done [validationPassed]`. */
  readonly labels: readonly string[];
  /** SVG path data. */
  readonly path: string;
}

export interface StatechartLayout {
  readonly id: string;
  readonly width: number;
  readonly height: number;
  readonly states: readonly LaidOutState[];
  readonly transitions: readonly LaidOutTransition[];
}

const NODE_WIDTH = 132;
const NODE_HEIGHT = 58;
const GAP_X = 54;
const GAP_Y = 22;
const MARGIN = 24;
/** Room under the nodes for the curves of backward transitions. */
const BACK_EDGE_ROOM = 36;

interface Edge {
  from: string;
  to: string;
  kind: EdgeKind;
  labels: string[];
}

function kindOf(eventType: string): EdgeKind {
  if (eventType === '') return 'always';
  if (eventType.startsWith('xstate.done.actor.') || eventType.endsWith('.done')) return 'done';
  if (eventType.startsWith('xstate.error.actor.') || eventType.endsWith('.failed')) return 'error';
  if (eventType.startsWith('xstate.after.')) return 'after';
  return 'event';
}

function guardName(guard: unknown): string | undefined {
  if (guard === undefined || guard === null) return undefined;
  if (typeof guard === 'string') return guard;
  if (typeof guard === 'function') return guard.name || 'guard';
  if (typeof guard === 'object' && typeof (guard as { type?: unknown }).type === 'string') return (guard as { type: string }).type;
  return 'guard';
}

/** A named entry action's type (`assign` and inline functions have no name worth showing). */
function actionName(action: unknown): string | undefined {
  const type = typeof action === 'string' ? action : (action as { type?: unknown } | null)?.type;
  return typeof type === 'string' && !type.startsWith('xstate.') ? type : undefined;
}

/** The top-level state a (possibly nested) state node belongs to. */
function topLevelOf(node: AnyStateNode, root: AnyStateNode): string | undefined {
  let current: AnyStateNode | undefined = node;
  while (current && current.parent !== root) current = current.parent;
  return current?.key;
}

function descendants(node: AnyStateNode): AnyStateNode[] {
  return Object.values(node.states as Record<string, AnyStateNode>).flatMap((child) => [child, ...descendants(child)]);
}

/** The transitions between top-level states; nested states are folded into their top-level ancestor. */
function edgesOf(machine: AnyStateMachine): Edge[] {
  const root = machine.root;
  const edges = new Map<string, Edge>();
  for (const top of Object.values(root.states as Record<string, AnyStateNode>)) {
    for (const node of [top, ...descendants(top)]) {
      const definitions = [...[...node.transitions.values()].flat(), ...(node.always ?? [])];
      for (const definition of definitions) {
        const kind = kindOf(definition.eventType);
        // XState's own done/error event names carry an actor id: say `done` / `error` instead.
        const event = definition.eventType.startsWith('xstate.') && kind !== 'event' ? kind : definition.eventType;
        const guard = guardName(definition.guard);
        for (const target of definition.target ?? []) {
          const to = topLevelOf(target, root);
          if (to === undefined || to === top.key) continue;
          const key = `${top.key}\u0000${to}\u0000${kind}`;
          const edge = edges.get(key) ?? { from: top.key, to, kind, labels: [] };
          const label = guard ? `${event} [${guard}]` : event;
          if (!edge.labels.includes(label)) edge.labels.push(label);
          edges.set(key, edge);
        }
      }
    }
  }
  return [...edges.values()];
}

/** Longest-path ranks from the initial state, ignoring the edges that close a cycle. */
function ranksOf(order: readonly string[], initial: string | undefined, edges: readonly Edge[]): Map<string, number> {
  const out = new Map<string, string[]>(order.map((id) => [id, []]));
  for (const edge of edges) out.get(edge.from)?.push(edge.to);
  const back = new Set<string>();
  const state = new Map<string, 'open' | 'done'>();
  const visit = (id: string): void => {
    state.set(id, 'open');
    for (const next of out.get(id) ?? []) {
      if (state.get(next) === 'open') back.add(`${id}\u0000${next}`);
      else if (!state.has(next)) visit(next);
    }
    state.set(id, 'done');
  };
  for (const id of initial ? [initial, ...order] : order) if (!state.has(id)) visit(id);
  const rank = new Map<string, number>(order.map((id) => [id, 0]));
  // Relax forward edges until stable: at most |states| rounds on a DAG.
  for (let round = 0; round < order.length; round++) {
    let changed = false;
    for (const edge of edges) {
      if (back.has(`${edge.from}\u0000${edge.to}`)) continue;
      const candidate = (rank.get(edge.from) ?? 0) + 1;
      if (candidate > (rank.get(edge.to) ?? 0)) {
        rank.set(edge.to, candidate);
        changed = true;
      }
    }
    if (!changed) break;
  }
  return rank;
}

/** Orders each column by the mean position of its neighbours (a few barycentre sweeps). */
function orderColumns(columns: string[][], edges: readonly Edge[]): void {
  const position = new Map<string, number>();
  const index = () => columns.forEach((column) => column.forEach((id, i) => position.set(id, i / Math.max(1, column.length - 1))));
  index();
  const neighbours = (id: string, forward: boolean) =>
    edges.filter((e) => (forward ? e.to === id : e.from === id)).map((e) => position.get(forward ? e.from : e.to) ?? 0);
  for (let sweep = 0; sweep < 4; sweep++) {
    const forward = sweep % 2 === 0;
    const sequence = forward ? columns : [...columns].reverse();
    for (const column of sequence) {
      const weight = new Map(column.map((id, i) => {
        const near = neighbours(id, forward);
        return [id, near.length ? near.reduce((a, b) => a + b, 0) / near.length : i / Math.max(1, column.length - 1)] as const;
      }));
      column.sort((a, b) => weight.get(a)! - weight.get(b)!);
      index();
    }
  }
}

function pathBetween(from: LaidOutState, to: LaidOutState, bottom: number): string {
  if (to.x > from.x) {
    const x1 = from.x + from.width;
    const y1 = from.y + from.height / 2;
    const x2 = to.x;
    const y2 = to.y + to.height / 2;
    const bend = Math.max(24, (x2 - x1) / 2);
    return `M${x1},${y1} C${x1 + bend},${y1} ${x2 - bend},${y2} ${x2},${y2}`;
  }
  // Backwards (or within a column): leave from the bottom, swing under the nodes, enter from below.
  const x1 = from.x + from.width / 2;
  const y1 = from.y + from.height;
  const x2 = to.x + to.width / 2 + (to.x === from.x ? 18 : 0);
  const y2 = to.y + to.height;
  return `M${x1},${y1} C${x1},${bottom} ${x2},${bottom} ${x2},${y2}`;
}

/**
 * Lays out a machine's top-level states left to right, one column per rank (the longest
 * path from the initial state), with the transitions between them. No layout library:
 * machines here have a dozen states.
 */
export function layoutStatechart(machine: AnyStateMachine): StatechartLayout {
  const root = machine.root;
  const nodes = Object.values(root.states as Record<string, AnyStateNode>);
  const order = nodes.map((node) => node.key);
  const initial = root.initial?.target?.[0]?.key;
  const edges = edgesOf(machine);
  const rank = ranksOf(order, initial, edges);
  const columns: string[][] = [];
  for (const id of order) (columns[rank.get(id) ?? 0] ??= []).push(id);
  for (let i = 0; i < columns.length; i++) columns[i] ??= [];
  orderColumns(columns, edges);

  const tallest = Math.max(1, ...columns.map((c) => c.length));
  const columnHeight = (n: number) => n * NODE_HEIGHT + Math.max(0, n - 1) * GAP_Y;
  const byId = new Map(nodes.map((node) => [node.key, node]));
  const states: LaidOutState[] = [];
  columns.forEach((column, c) => {
    const top = MARGIN + (columnHeight(tallest) - columnHeight(column.length)) / 2;
    column.forEach((id, i) => {
      const node = byId.get(id)!;
      states.push({
        id,
        final: node.type === 'final',
        initial: id === initial,
        invokes: [...node.entry.map(actionName).filter((name) => name !== undefined), ...node.invoke.map((invoke) => (typeof invoke.src === 'string' ? invoke.src : invoke.id))],
        x: MARGIN + c * (NODE_WIDTH + GAP_X),
        y: top + i * (NODE_HEIGHT + GAP_Y),
        width: NODE_WIDTH,
        height: NODE_HEIGHT,
      });
    });
  });
  const height = MARGIN * 2 + columnHeight(tallest) + BACK_EDGE_ROOM;
  const placed = new Map(states.map((s) => [s.id, s]));
  const transitions = edges.map((edge) => ({
    ...edge,
    path: pathBetween(placed.get(edge.from)!, placed.get(edge.to)!, height - MARGIN / 2),
  }));
  return {
    id: machine.id,
    width: MARGIN * 2 + columns.length * NODE_WIDTH + Math.max(0, columns.length - 1) * GAP_X,
    height,
    states: order.map((id) => placed.get(id)!),
    transitions,
  };
}
