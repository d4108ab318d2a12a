/**
 * Envelopes that start workflows or send them events: the handler a {@link WorkflowTrigger}
 * registers for its domain and subject.
 */
import type { EventObject } from 'xstate';
import type { Handler } from '../runtime/handlers.ts';
import { FinalError } from '../errors/index.ts';
import { InvalidWorkflowInputError, WorkflowAlreadyExistsError, WorkflowNotFoundError, WorkflowNotRunningError } from './workflow-errors.ts';
import type { WorkflowInfo, WorkflowTrigger } from './workflow-types.ts';

/** What a trigger does to workflows. */
export interface TriggerTarget {
  start(name: string, input: unknown, options: { readonly id: string; readonly correlation: string }): Promise<WorkflowInfo>;
  get(id: string): Promise<WorkflowInfo | undefined>;
  /** Sends an event once per `dedupeKey`. */
  signal(id: string, event: EventObject, dedupeKey: string): Promise<WorkflowInfo>;
  /** The workflow a correlation belongs to: one its envelope started, or one that sent a request with it. */
  workflowOf(correlation: string): Promise<string | undefined>;
}

/** The envelope handler of a trigger of the workflow kind `name`. It replies `{ workflowId, status, state }`. */
export function triggerHandler(target: TriggerTarget, name: string, trigger: WorkflowTrigger): Handler {
  if ('start' in trigger) {
    return async ({ envelope, from, correlation, body, verified }) => {
      refuseUnverified(verified);
      const spec = trigger.start === true ? {} : trigger.start(envelope);
      const id = spec.id ?? `${from}/${correlation}`;
      let info: WorkflowInfo | undefined;
      try {
        info = await target.start(name, spec.input !== undefined ? spec.input : body, { id, correlation });
      } catch (error) {
        if (!(error instanceof WorkflowAlreadyExistsError)) throw error;
        // A redelivered envelope: the workflow it started is the answer.
        info = await target.get(id);
      }
      return { workflowId: id, status: info?.status ?? 'running', state: (info?.state ?? null) as never };
    };
  }
  return async ({ envelope, from, correlation, subject, body, verified }) => {
    refuseUnverified(verified);
    const spec = trigger.signal === true ? {} : trigger.signal(envelope);
    const id = spec.id ?? (await target.workflowOf(correlation));
    if (id === undefined) throw new FinalError(`no workflow belongs to correlation ${correlation}`, 'no-workflow');
    const event = spec.event ?? { type: subject, envelope: { from, correlation, body } };
    try {
      const info = await target.signal(id, event, `${from}/${correlation}/${subject}`);
      return { workflowId: id, status: info.status, state: info.state as never };
    } catch (error) {
      if (error instanceof WorkflowNotFoundError || error instanceof WorkflowNotRunningError || error instanceof InvalidWorkflowInputError) {
        throw new FinalError(error.message, 'workflow-refused', { cause: error });
      }
      throw error;
    }
  };
}

/** An unverified envelope (a public subject's unsigned one) may neither start nor signal a workflow: its From and correlation are only claimed. */
function refuseUnverified(verified: boolean): void {
  if (!verified) throw new FinalError('a workflow trigger needs a verified sender (this envelope is unsigned or from Anonymous/a wallet)', 'unverified');
}
