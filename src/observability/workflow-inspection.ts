/** Workflows as Stately Inspector actors: see `src/core/workflow-inspection.ts` (the runtime's composition wires it, so it sits there). */
export { inspectWorkflows, isWorkflowActor, workflowSessionId } from '../core/workflow-inspection.ts';
