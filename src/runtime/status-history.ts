/**
 * The rules of an envelope's status history, in one place: which steps it starts with, when a
 * step is appended, and how a retry or a dead-letter replay continues the stored history.
 * Pure functions; the inbox, the flight, the actor observer, the dead-letter step and the
 * settlement call them.
 *
 * @example
 * ```ts
 * let history = initialHistory(receivedAt, queuedAt); // received, queued
 * history = withStep(history, 'validating', now);     // appended
 * history = withStep(history, 'validating', later);   // unchanged: already the last step
 * const stored = continuesStoredHistory(run) ? await status.get(from, correlation) : undefined;
 * const written = mergeHistory(history, run, stored);
 * ```
 * @internal
 */
import type { EnvelopeStatus, StatusStep } from './status-store.ts';

/** The states the inbox records before any actor runs; an actor's snapshots never append them again. */
const INITIAL_STATES: ReadonlySet<string> = new Set(['received', 'queued']);

/** The first steps of every history: `received` (the inbox took the envelope), then `queued` (JetStream stored it). */
export function initialHistory(receivedAt: string, queuedAt: string): StatusStep[] {
  return [
    { state: 'received', at: receivedAt },
    { state: 'queued', at: queuedAt },
  ];
}

/** Whether `state` is news for `history`: not one of the initial states, and not already the last step. */
export function isNewStep(history: readonly StatusStep[], state: string): boolean {
  return !INITIAL_STATES.has(state) && history.at(-1)?.state !== state;
}

/** `history` with `state` appended at `at`; `history` itself when the step is not news ({@link isNewStep}). */
export function withStep(history: readonly StatusStep[], state: string, at: string): readonly StatusStep[] {
  return isNewStep(history, state) ? [...history, { state, at }] : history;
}

/** The run a history belongs to: its delivery attempt, and who replayed it from the dead letters (if anyone). */
export interface HistoryRun {
  readonly attempt: number;
  readonly replayedBy?: string | undefined;
}

/** Whether {@link mergeHistory} continues the stored status: a dead-letter replay, or a retry. Only then is it worth reading. */
export function continuesStoredHistory(run: HistoryRun): boolean {
  return run.replayedBy !== undefined || run.attempt > 1;
}

const isoNow = (): string => new Date().toISOString();

/**
 * The history to store for this run, from the run's own `history` (initial steps, then the
 * actor's) and the `previous` status stored for the same sender and correlation:
 *
 * - a replay: the previous history (if it is the verified one; else only this run's `received`),
 *   a `replayed` step naming the replayer (at this run's `queued` time), then this run's steps
 *   after `received`;
 * - a retry (attempt > 1) over a previous history that got past `queued`: that history, then
 *   this run's steps after the initial ones;
 * - otherwise this run's history as it is.
 */
export function mergeHistory(
  history: readonly StatusStep[],
  run: HistoryRun,
  previous: Pick<EnvelopeStatus, 'history' | 'verified'> | undefined,
  now: () => string = isoNow,
): readonly StatusStep[] {
  if (run.replayedBy !== undefined) {
    const replayed: StatusStep = { state: 'replayed', at: history[1]?.at ?? now(), by: run.replayedBy };
    return [...(previous?.verified ? previous.history : history.slice(0, 1)), replayed, ...history.slice(1)];
  }
  if (run.attempt > 1 && previous && previous.history.length > 2) return [...previous.history, ...history.slice(2)];
  return history;
}
