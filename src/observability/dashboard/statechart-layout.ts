import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import type { ElkExtendedEdge, ElkNode } from 'elkjs/lib/elk.bundled.js';
import type { AnyStateMachine, AnyStateNode } from 'xstate';

/**
 * How a transition is taken: on a step's or an actor's done event, its error event,
 * eventlessly, after a delay, or on another event. A step's result events are named
 * `<step>.done` and `<step>.failed` / `step.failed` (the envelope machine's convention).
 * `redelivery` is not a transition of the machine: it is the runtime handing an attempt that
 * ended in a resting state back to JetStream, which delivers it to a new actor later.
 */
export type EdgeKind = 'done' | 'error' | 'always' | 'after' | 'event' | 'redelivery';

export interface LaidOutState {
  /** The state's path: its key at the top level, `parent.child` below. */
  readonly id: string;
  /** Its own key, the name drawn. */
  readonly key: string;
  /** The path of the compound state it sits in (none at the top level). */
  readonly parent?: string;
  /** Only `type: 'final'` states, minus those the runtime redelivers from. */
  readonly final: boolean;
  /** A final state of the actor whose work goes on: JetStream redelivers it (the envelope's `retrying`). */
  readonly resting: boolean;
  readonly initial: boolean;
  /** Has nested states, drawn inside it. */
  readonly compound: boolean;
  /** The state's work, shown under the name: its entry actions and its invoked actors' sources. */
  readonly invokes: readonly string[];
  readonly x: number;
  readonly y: number;
  readonly width: number;
  readonly height: number;
}

export interface LaidOutLabel {
  readonly text: string;
  readonly x: number;
  readonly y: number;
  readonly width: number;
  readonly height: number;
}

export interface LaidOutTransition {
  readonly from: string;
  readonly to: string;
  readonly kind: EdgeKind;
  /** Event and guard names, e.g. `validate.done [validationPassed]`. */
  readonly labels: readonly string[];
  /** Where the label is drawn (one box, the labels one per line). */
  readonly label: LaidOutLabel;
  /** The orthogonal route, start to end. */
  readonly points: readonly { readonly x: number; readonly y: number }[];
  /** SVG path data of {@link points}. */
  readonly path: string;
}

export interface StatechartLayout {
  readonly id: string;
  readonly width: number;
  readonly height: number;
  /** Parents before their children. */
  readonly states: readonly LaidOutState[];
  readonly transitions: readonly LaidOutTransition[];
  /** The arrows from each level's initial dot to its initial state. */
  readonly initials: readonly { readonly to: string; readonly path: string; readonly dot: { readonly x: number; readonly y: number } }[];
}

export interface StatechartLayoutOptions {
  /**
   * Final states the runtime redelivers from, and the state the next attempt starts in: drawn
   * as resting states (not final), with a `redelivery` edge back. The envelope machine's
   * `retrying` ends its actor (`type: 'final'`), but not the envelope.
   */
  readonly redelivery?: Readonly<Record<string, string>>;
}

/**
 * ELK runs synchronously for a second or so on a busy machine (its Java compiled to JavaScript),
 * which would stall the envelopes this thread runs: it runs on a worker thread of its own,
 * started when a layout is wanted and ended once idle. Evaluated code, so the worker needs no
 * file of its own beside this module (in the sources or in `dist/`).
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const ELK = require(workerData.elk);
const elk = new ELK();
parentPort.on('message', ({ id, graph }) => elk.layout(graph).then(
  (result) => parentPort.postMessage({ id, result }),
  (error) => parentPort.postMessage({ id, error: String(error && error.message || error) }),
));`;
const IDLE_MS = 5_000;

let worker: Worker | undefined;
let idle: NodeJS.Timeout | undefined;
let nextId = 0;
const pending = new Map<number, { resolve: (node: ElkNode) => void; reject: (error: Error) => void }>();

function failAll(error: Error): void {
  for (const { reject } of pending.values()) reject(error);
  pending.clear();
  worker = undefined;
}

function elkWorker(): Worker {
  if (worker) return worker;
  const started = new Worker(WORKER_SOURCE, { eval: true, workerData: { elk: createRequire(import.meta.url).resolve('elkjs/lib/elk.bundled.js') } });
  started.unref();
  started.on('message', ({ id, result, error }: { id: number; result?: ElkNode; error?: string }) => {
    const waiting = pending.get(id);
    pending.delete(id);
    if (error !== undefined) waiting?.reject(new Error(`statechart layout failed: ${error}`));
    else waiting?.resolve(result!);
    if (pending.size === 0) {
      idle = setTimeout(() => {
        if (pending.size === 0 && worker === started) {
          worker = undefined;
          void started.terminate();
        }
      }, IDLE_MS);
      idle.unref();
    }
  });
  started.on('error', (error) => failAll(error));
  started.on('exit', (code) => {
    if (worker === started) failAll(new Error(`the statechart layout worker exited (${code})`));
  });
  return (worker = started);
}

/** Lays an ELK graph out on the layout worker. */
function runElk(graph: ElkNode): Promise<ElkNode> {
  if (idle) clearTimeout(idle);
  const id = nextId++;
  return new Promise<ElkNode>((resolve, reject) => {
    pending.set(id, { resolve, reject });
    elkWorker().postMessage({ id, graph });
  });
}

const FONT_NAME = 7.6; // px per character of a 13 px bold name (a generous estimate: labels never spill)
const FONT_SMALL = 6.3; // px per character of 11 px text
const LINE = 14;
const PAD_X = 12;
const NAME_HEIGHT = 30;
const INVOKE_HEIGHT = 15;
const BADGE_ROOM = 30;
const DOT = 10;
const MARGIN = 12;

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

/** What a transition is labelled with: its event, readable (`after 5000ms`, `done`, `always`). */
function eventLabel(eventType: string, kind: EdgeKind): string {
  if (kind === 'always') return 'always';
  if (kind === 'after') return `after ${eventType.slice('xstate.after.'.length).split('.')[0]}ms`;
  // XState's own done/error event names carry an actor id: say `done` / `error` instead.
  if (eventType.startsWith('xstate.')) return kind;
  return eventType;
}

/** How a transition's label names an event type (`xstate.after.5000.door.opened` → `after 5000ms`). */
export function transitionEventName(eventType: string): string {
  return eventLabel(eventType, kindOf(eventType));
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

const childrenOf = (node: AnyStateNode): AnyStateNode[] => Object.values(node.states as Record<string, AnyStateNode>);
const pathOf = (node: AnyStateNode): string => node.path.join('.');
const descendants = (node: AnyStateNode): AnyStateNode[] => childrenOf(node).flatMap((child) => [child, ...descendants(child)]);

/** Every transition with a target, one edge per source, target and kind, its labels merged. */
function edgesOf(machine: AnyStateMachine): Edge[] {
  const edges = new Map<string, Edge>();
  for (const node of descendants(machine.root)) {
    const definitions = [...[...node.transitions.values()].flat(), ...(node.always ?? [])];
    for (const definition of definitions) {
      const kind = kindOf(definition.eventType);
      const guard = guardName(definition.guard);
      const label = guard ? `${eventLabel(definition.eventType, kind)} [${guard}]` : eventLabel(definition.eventType, kind);
      for (const target of definition.target ?? []) {
        const from = pathOf(node);
        const to = pathOf(target);
        // ELK cannot route an edge between a compound state and its own descendant: draw it from the boundary.
        if (to.startsWith(`${from}.`) || from.startsWith(`${to}.`)) continue;
        const key = `${from}\u0000${to}\u0000${kind}`;
        const edge = edges.get(key) ?? { from, to, kind, labels: [] };
        if (!edge.labels.includes(label)) edge.labels.push(label);
        edges.set(key, edge);
      }
    }
  }
  return [...edges.values()];
}

/** The lines a transition's label is drawn on: each event, its guard on the next line (narrower charts). */
export function labelLines(labels: readonly string[]): string[] {
  return labels.flatMap((label) => {
    const guard = label.indexOf(' [');
    return guard > 0 ? [label.slice(0, guard), label.slice(guard + 1)] : [label];
  });
}

const textWidth = (text: string, perChar: number) => Math.ceil(text.length * perChar);

function invokesOf(node: AnyStateNode): string[] {
  return [...node.entry.map(actionName).filter((name) => name !== undefined), ...node.invoke.map((invoke) => (typeof invoke.src === 'string' ? invoke.src : invoke.id))];
}

const ROOT_OPTIONS = {
  'elk.algorithm': 'layered',
  'elk.direction': 'DOWN',
  'elk.hierarchyHandling': 'INCLUDE_CHILDREN',
  'elk.edgeRouting': 'ORTHOGONAL',
  'elk.json.shapeCoords': 'ROOT',
  'elk.json.edgeCoords': 'ROOT',
  // Each label at its edge's source, beside the line: no label floats away from its edge, and the chart stays narrow.
  'elk.edgeLabels.placement': 'TAIL',
  'elk.spacing.nodeNode': '16',
  'elk.spacing.edgeNode': '10',
  'elk.spacing.edgeEdge': '7',
  'elk.spacing.edgeLabel': '4',
  'elk.layered.spacing.nodeNodeBetweenLayers': '30',
  'elk.layered.spacing.edgeNodeBetweenLayers': '14',
  'elk.layered.spacing.edgeEdgeBetweenLayers': '10',
  'elk.layered.considerModelOrder.strategy': 'NODES_AND_EDGES',
  'elk.layered.cycleBreaking.strategy': 'MODEL_ORDER',
  // The narrowest of ELK's placements here (with the spacing above: the envelope machine ~710 units wide).
  'elk.layered.nodePlacement.strategy': 'NETWORK_SIMPLEX',
  'elk.padding': `[top=${MARGIN},left=${MARGIN},bottom=${MARGIN},right=${MARGIN}]`,
};

interface Built {
  graph: ElkNode;
  info: Map<string, { node: AnyStateNode; resting: boolean; invokes: string[] }>;
  edges: Edge[];
}

function buildGraph(machine: AnyStateMachine, options: StatechartLayoutOptions): Built {
  const info: Built['info'] = new Map();
  const initialEdges: ElkExtendedEdge[] = [];
  const redelivery = options.redelivery ?? {};
  const toElk = (node: AnyStateNode): ElkNode => {
    const id = pathOf(node);
    const invokes = invokesOf(node);
    info.set(id, { node, resting: id in redelivery, invokes });
    const children = childrenOf(node);
    const width = Math.max(textWidth(node.key, FONT_NAME), ...invokes.map((i) => textWidth(i, FONT_SMALL))) + PAD_X * 2 + BADGE_ROOM;
    if (children.length === 0) return { id, width, height: NAME_HEIGHT + (invokes.length ? INVOKE_HEIGHT : 0) };
    const top = NAME_HEIGHT + (invokes.length ? INVOKE_HEIGHT : 0) + 4;
    return {
      id,
      layoutOptions: { 'elk.padding': `[top=${top},left=14,bottom=14,right=14]`, 'elk.nodeSize.constraints': 'MINIMUM_SIZE', 'elk.nodeSize.minimum': `(${width},${top + 20})` },
      children: withInitial(node, children.map(toElk)),
    };
  };
  const withInitial = (node: AnyStateNode, children: ElkNode[]): ElkNode[] => {
    const initial = node.initial?.target?.[0];
    if (!initial) return children;
    const dot = `\u0000initial:${pathOf(node)}`;
    initialEdges.push({ id: `${dot}>`, sources: [dot], targets: [pathOf(initial)] });
    return [{ id: dot, width: DOT, height: DOT }, ...children];
  };
  const edges = edgesOf(machine);
  for (const [from, to] of Object.entries(redelivery)) edges.push({ from, to, kind: 'redelivery', labels: ['redelivered'] });
  const graph: ElkNode = {
    id: '\u0000root',
    layoutOptions: ROOT_OPTIONS,
    children: withInitial(machine.root, childrenOf(machine.root).map(toElk)),
    edges: [
      ...initialEdges,
      ...edges.map((edge, i) => ({
        id: `e${i}`,
        sources: [edge.from],
        targets: [edge.to],
        labels: [{ layoutOptions: { 'elk.edgeLabels.placement': 'TAIL' }, text: labelLines(edge.labels).join('\n'), width: Math.max(...labelLines(edge.labels).map((l) => textWidth(l, FONT_SMALL))) + 6, height: labelLines(edge.labels).length * LINE + 4 }],
      })),
    ],
  };
  return { graph, info, edges };
}

const round = (n: number) => Math.round(n * 10) / 10;
const pathData = (points: readonly { x: number; y: number }[]) => points.map((p, i) => `${i ? 'L' : 'M'}${round(p.x)},${round(p.y)}`).join(' ');

function routeOf(edge: ElkExtendedEdge): { x: number; y: number }[] {
  const section = edge.sections?.[0];
  if (!section) return [];
  return [section.startPoint, ...(section.bendPoints ?? []), section.endPoint];
}

async function computeLayout(machine: AnyStateMachine, options: StatechartLayoutOptions): Promise<StatechartLayout> {
  const { graph, info, edges } = buildGraph(machine, options);
  const laid = await runElk(graph);
  const states: LaidOutState[] = [];
  const initials: StatechartLayout['initials'][number][] = [];
  const dots = new Map<string, { x: number; y: number }>();
  const visit = (node: ElkNode, parent: string | undefined) => {
    for (const child of node.children ?? []) {
      if (child.id.startsWith('\u0000initial:')) {
        dots.set(child.id, { x: round(child.x! + DOT / 2), y: round(child.y! + DOT / 2) });
        continue;
      }
      const { node: stateNode, resting, invokes } = info.get(child.id)!;
      const initialOf = stateNode.parent?.initial?.target?.[0];
      states.push({
        id: child.id,
        key: stateNode.key,
        ...(parent !== undefined ? { parent } : {}),
        final: stateNode.type === 'final' && !resting,
        resting,
        initial: initialOf === stateNode,
        compound: (child.children?.length ?? 0) > 0,
        invokes,
        x: round(child.x!),
        y: round(child.y!),
        width: round(child.width!),
        height: round(child.height!),
      });
      visit(child, child.id);
    }
  };
  visit(laid, undefined);
  const transitions: LaidOutTransition[] = [];
  for (const edge of laid.edges ?? []) {
    const points = routeOf(edge);
    if (edge.id.startsWith('\u0000initial:')) {
      initials.push({ to: edge.targets[0]!, path: pathData(points), dot: dots.get(edge.sources[0]!)! });
      continue;
    }
    const source = edges[Number(edge.id.slice(1))]!;
    const label = edge.labels![0]!;
    transitions.push({ ...source, label: { text: label.text!, x: round(label.x!), y: round(label.y!), width: label.width!, height: label.height! }, points, path: pathData(points) });
  }
  const layout = { id: machine.id, width: Math.ceil(laid.width!), height: Math.ceil(laid.height!), states, transitions, initials };
  const start = states.find((s) => s.initial && s.parent === undefined);
  return start && start.x + start.width / 2 > layout.width / 2 ? mirrored(layout) : layout;
}

/**
 * The layout flipped left to right. ELK may put the initial state right of centre; a narrow
 * screen shows the left of a chart first, so the start goes there. A mirror image keeps every
 * route clear of the boxes.
 */
function mirrored(layout: StatechartLayout): StatechartLayout {
  const x = (value: number, width = 0) => round(layout.width - value - width);
  const point = (p: { x: number; y: number }) => ({ x: x(p.x), y: p.y });
  return {
    ...layout,
    states: layout.states.map((s) => ({ ...s, x: x(s.x, s.width) })),
    transitions: layout.transitions.map((t) => {
      const points = t.points.map(point);
      return { ...t, points, path: pathData(points), label: { ...t.label, x: x(t.label.x, t.label.width) } };
    }),
    initials: layout.initials.map((i) => ({ ...i, dot: point(i.dot), path: mirrorPath(i.path, layout.width) })),
  };
}

const mirrorPath = (path: string, width: number) => path.replace(/([ML])([\d.-]+),/g, (_m, command: string, value: string) => `${command}${round(width - Number(value))},`);

const cache = new WeakMap<AnyStateMachine, Map<string, Promise<StatechartLayout>>>();

/**
 * Lays a machine out with ELK's layered algorithm (elkjs, in process): top to bottom from the
 * initial state, nested states drawn inside their parent, orthogonal edges routed around the
 * states, each labelled with its events and guards. Layout takes up to a second or two (on a
 * worker thread), so it is cached per machine (and options): the dashboard draws each machine once.
 */
export function layoutStatechart(machine: AnyStateMachine, options: StatechartLayoutOptions = {}): Promise<StatechartLayout> {
  const key = JSON.stringify(options.redelivery ?? {});
  let byOptions = cache.get(machine);
  if (!byOptions) cache.set(machine, (byOptions = new Map()));
  let layout = byOptions.get(key);
  if (!layout) {
    layout = computeLayout(machine, options);
    byOptions.set(key, layout);
    layout.catch(() => byOptions.delete(key));
  }
  return layout;
}
