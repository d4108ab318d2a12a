/**
 * Admin routes over the dead letters, for a backlog:
 * - `GET /dead-letters` (`?reason=&subject=&from=&to=&correlation=&since=&until=&cursor=&limit=`):
 *   a page, newest first, without the envelope bytes (`GET /dead-letters/{id}` has them).
 * - `GET /dead-letters/groups` (same filters): how many match, by reason, and `upTo`, the
 *   newest id counted.
 * - `POST /dead-letters/replay`, `POST /dead-letters/purge` (`{"upTo": n, "reason": …, …}`: the
 *   filter, and the `upTo` of the count the operator confirmed): replays or purges the matching
 *   letters with ids up to `upTo` (never one that came in after the count), at most 10,000 a
 *   call (`remaining: true` when more are left). Each writes an audit entry (admin-auth's table: refusals too).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { adminWho, noteAudit } from './admin-auth.ts';
import { deadLetterFilter, filterFromBody, FilterError, pageOptions, type FilterQuery } from './admin-filters.ts';
import { problem } from './public-routes.ts';
import type { DeadLetterQuery } from '../runtime/dead-letter-query.ts';

/** True when the request says its body is JSON. */
export const isJson = (request: FastifyRequest): boolean => /^application\/json\s*(;|$)/i.test(request.headers['content-type'] ?? '');

export function registerAdminDeadLetterRoutes(app: FastifyInstance, query: DeadLetterQuery): void {
  const bad = (reply: FastifyReply, error: unknown) => {
    if (error instanceof FilterError) return problem(reply, 400, 'bad-request', error.message);
    throw error;
  };
  app.get<{ Querystring: FilterQuery }>('/dead-letters', async (request, reply) => {
    try {
      return await query.list(deadLetterFilter(request.query), pageOptions(request.query));
    } catch (error) {
      return bad(reply, error);
    }
  });
  app.get<{ Querystring: FilterQuery }>('/dead-letters/groups', async (request, reply) => {
    try {
      return await query.groups(deadLetterFilter(request.query));
    } catch (error) {
      return bad(reply, error);
    }
  });

  for (const action of ['replay', 'purge'] as const) {
    app.post(`/dead-letters/${action}`, async (request, reply) => {
      // JSON only: a form another page could submit (text/plain) is not an action here.
      if (!isJson(request)) {
        return problem(reply, 415, 'unsupported-media-type', 'send the filter as JSON (content-type: application/json)');
      }
      let body: Record<string, unknown>;
      try {
        body = JSON.parse(Buffer.from((request.body as Buffer | undefined) ?? '').toString('utf8')) as Record<string, unknown>;
      } catch (_) {
        body = {};
      }
      const upTo = body['upTo'];
      if (typeof upTo !== 'number' || !Number.isSafeInteger(upTo) || upTo < 1) {
        return problem(reply, 400, 'bad-request', `send JSON {"upTo": <the upTo of GET /dead-letters/groups>, "reason"?, "subject"?, "from"?, "to"?, "correlation"?, "since"?, "until"?}: the ${action} touches only letters up to the count you confirmed`);
      }
      const raw = filterFromBody(body);
      let filter;
      try {
        filter = deadLetterFilter(raw);
      } catch (error) {
        return bad(reply, error);
      }
      const outcome = await query.bulk(action, filter, upTo, { by: adminWho(request) ?? 'http' });
      const ids = { upTo: String(upTo), count: String(outcome.done.length), ...(raw as Record<string, string>) };
      // The audit entry (admin-auth's table) is written when the answer is sent, refusals included.
      noteAudit(request, ids);
      return outcome;
    });
  }
}
