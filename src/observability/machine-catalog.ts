import type { AnyStateMachine } from 'xstate';
import { envelopeFinalStates, envelopeMachine } from '../../machines/envelope.machine.ts';
import { conversationMachine } from '../../machines/conversation.machine.ts';

/** A machine the runtime runs, as the dashboard draws it and `mailroom machines export` writes it. */
export interface CatalogMachine {
  /** The machine's id, also the file name of its export (`<id>.json`). */
  readonly id: string;
  readonly machine: AnyStateMachine;
  readonly description: string;
  /** The states in which an actor is finished: the dashboard counts them as totals, not in flight. */
  readonly finalStates: readonly string[];
  /**
   * Whether the runtime reports this machine's transitions, so the dashboard can count its
   * actors per state. Envelope actors do (the `transition` event); conversations, which are
   * passivated to KV and rehydrated for an instant per event, do not yet.
   */
  readonly counted: boolean;
  /**
   * Final states of the actor after which the runtime hands the message back to JetStream, by
   * the state the next attempt starts in. The statechart draws them as resting, not final.
   */
  readonly redelivery?: Readonly<Record<string, string>>;
}

/** The top-level final states of a machine. */
export function finalStatesOf(machine: AnyStateMachine): string[] {
  return Object.values(machine.root.states).filter((node) => node.type === 'final').map((node) => node.key);
}

/**
 * Every machine the runtime itself runs. Workflow machines join this list when the runtime
 * runs them; the dashboard and the export iterate it, so they need no change.
 */
export const runtimeMachines: readonly CatalogMachine[] = [
  {
    id: 'envelope',
    machine: envelopeMachine,
    description: 'One actor per delivered inbox message, from received to a final state',
    finalStates: envelopeFinalStates,
    counted: true,
    // `retrying` ends the actor (type: 'final': its message is nak'ed), not the envelope.
    redelivery: { retrying: 'received' },
  },
  {
    id: 'conversation',
    machine: conversationMachine,
    description: 'An outbound request waiting for its reply, passivated to KV between events (counts: the ones this process started)',
    finalStates: finalStatesOf(conversationMachine),
    counted: true,
  },
];

/** True for an XState machine (what `createMachine` or `setup().createMachine` return). */
export function isStateMachine(value: unknown): value is AnyStateMachine {
  if (typeof value !== 'object' || value === null) return false;
  const candidate = value as Partial<AnyStateMachine>;
  return typeof candidate.config === 'object' && candidate.config !== null && typeof candidate.toJSON === 'function' && typeof candidate.provide === 'function' && candidate.root !== undefined;
}
