import type { AnyStateMachine, AnyStateNode, StateValue } from 'xstate';
import type { WorkflowInfo } from '../../workflows/workflow-types.ts';
import { transitionEventName, type StatechartLayout } from './statechart-layout.ts';

/** Where a workflow is and how it got there, in the terms of its statechart. */
export interface WorkflowPath {
  /** The active states now (paths, parents included). */
  readonly current: readonly string[];
  /** Every state its stored history went through, current ones included. */
  readonly visited: readonly string[];
  /** The transitions taken between consecutive history entries, once each. */
  readonly taken: readonly { readonly from: string; readonly to: string }[];
  /** The events its current states take (XState's own and eventless ones left out); none once it ended. */
  readonly events: readonly string[];
}

/** The active state paths of a state value, parents included: `{ working: 'coding' }` → `working`, `working.coding`. */
export function activePaths(value: StateValue, prefix = ''): string[] {
  if (typeof value === 'string') return [`${prefix}${value}`];
  return Object.entries(value).flatMap(([key, child]) => [`${prefix}${key}`, ...(child === undefined ? [] : activePaths(child as StateValue, `${prefix}${key}.`))]);
}

const eventOf = (label: string) => label.replace(/ \[.*\]$/, '');

/** The transitions that lead from one stored step to the next: those whose event is the step's, else any between the two. */
function takenBetween(layout: StatechartLayout, before: readonly string[], after: readonly string[], event: string): { from: string; to: string }[] {
  const candidates = layout.transitions.filter((t) => before.includes(t.from) && after.includes(t.to));
  const name = transitionEventName(event);
  const matching = candidates.filter((t) => t.labels.some((label) => eventOf(label) === name));
  return (matching.length ? matching : candidates).map((t) => ({ from: t.from, to: t.to }));
}

/** The events the machine takes in a state: the keys of the active nodes' transitions. */
function eventsIn(machine: AnyStateMachine, paths: readonly string[]): string[] {
  const events = new Set<string>();
  for (const path of paths) {
    let node: AnyStateNode | undefined;
    try {
      node = machine.getStateNodeById(`${machine.id}.${path}`);
    } catch {
      continue;
    }
    for (const type of node.transitions.keys()) if (type && !type.startsWith('xstate.') && type !== '*') events.add(type);
  }
  return [...events];
}

/** A workflow's current state, visited states and taken transitions on its machine's layout. */
export function workflowPath(info: Pick<WorkflowInfo, 'state' | 'status' | 'history'>, layout: StatechartLayout, machine: AnyStateMachine): WorkflowPath {
  const drawn = new Set(layout.states.map((s) => s.id));
  const current = activePaths(info.state).filter((p) => drawn.has(p));
  const visited = new Set<string>();
  const taken = new Map<string, { from: string; to: string }>();
  let before: string[] | undefined;
  for (const entry of info.history) {
    const after = activePaths(entry.state).filter((p) => drawn.has(p));
    for (const p of after) visited.add(p);
    if (before) for (const t of takenBetween(layout, before, after, entry.event)) taken.set(`${t.from}\u0000${t.to}`, t);
    before = after;
  }
  for (const p of current) visited.add(p);
  const active = info.status === 'running' || info.status === 'parked';
  return { current, visited: [...visited], taken: [...taken.values()], events: active ? eventsIn(machine, current) : [] };
}
