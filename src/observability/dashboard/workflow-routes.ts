import type { FastifyInstance } from 'fastify';
import type { RegisteredWorkflow, WorkflowInfo, Workflows } from '../../workflows/workflow-types.ts';
import { layoutStatechart } from './statechart-layout.ts';
import { renderStatechartSvg } from './statechart-svg.ts';
import { workflowPath } from './workflow-path.ts';

/** Where the routes find the runtime's workflows: set once the runtime runs (`Observability.attach`). */
export interface WorkflowSource {
  workflows?: Pick<Workflows, 'registered' | 'get'>;
}

/** A workflow kind's statechart. */
export interface WorkflowKindChart {
  readonly name: string;
  readonly version: string;
  readonly svg: string;
}

async function chartOf(kind: RegisteredWorkflow): Promise<WorkflowKindChart> {
  return { name: kind.name, version: kind.version, svg: renderStatechartSvg(await layoutStatechart(kind.machine)) };
}

function summary(info: WorkflowInfo) {
  const { context: _context, history: _history, output: _output, ...rest } = info;
  return rest;
}

/**
 * The dashboard's Workflows view reads (admin routes, like every `/dashboard/api` route):
 * - `GET /dashboard/api/workflow-kinds`: each registered workflow kind drawn as a statechart;
 * - `GET /dashboard/api/workflow-chart/{id}`: one workflow on its kind's statechart: its
 *   current states, the states and transitions its stored history went through, the events it
 *   takes now, and its history.
 * Its actions (send an event, cancel, resume) are the existing admin routes
 * `POST /workflows/{id}/events|cancel|resume`, audited there.
 */
export function registerWorkflowRoutes(app: FastifyInstance, source: WorkflowSource): void {
  const unattached = { error: 'not-ready', detail: 'the dashboard is not attached to a running runtime yet (Observability.attach)' };
  app.get('/dashboard/api/workflow-kinds', async (_request, reply) => {
    if (!source.workflows) return reply.code(503).send(unattached);
    return { kinds: await Promise.all(source.workflows.registered().map(chartOf)) };
  });
  // The ID may hold slashes (`<From>/<Correlation>`), as in `GET /workflows/{id}`.
  app.get<{ Params: { '*': string } }>('/dashboard/api/workflow-chart/*', async (request, reply) => {
    const workflows = source.workflows;
    if (!workflows) return reply.code(503).send(unattached);
    const id = request.params['*'];
    if (!id) return reply.code(400).send({ error: 'bad-request', detail: 'give a workflow id: GET /dashboard/api/workflow-chart/{id}' });
    const info = await workflows.get(id);
    if (!info) return reply.code(404).send({ error: 'not-found', detail: `no workflow ${id}` });
    const kind = workflows.registered().find((k) => k.name === info.name);
    if (!kind) return { workflow: summary(info), history: info.history, chart: null, note: `no workflow kind ${info.name} is registered in this process` };
    const layout = await layoutStatechart(kind.machine);
    return {
      workflow: summary(info),
      history: info.history,
      chart: { name: kind.name, version: kind.version, svg: renderStatechartSvg(layout) },
      ...(kind.version !== info.version ? { note: `drawn with version ${kind.version}; this workflow runs version ${info.version}` } : {}),
      ...workflowPath(info, layout, kind.machine),
    };
  });
}
