import { PassThrough } from 'node:stream';
import type { FastifyInstance } from 'fastify';

/** Fails a request body that has not fully arrived within `ms`: the parser sees an error with status 408. */
export function addReadTimeout(app: FastifyInstance, ms: number): void {
  app.addHook('preParsing', async (request, _reply, payload) => {
    const hasBody = request.headers['transfer-encoding'] !== undefined || Number(request.headers['content-length'] ?? 0) > 0;
    if (!hasBody) return payload;
    const timed = new PassThrough();
    timed.on('error', () => undefined); // the parser listens too; this one keeps a late error from being unhandled
    const timer = setTimeout(() => {
      payload.unpipe(timed);
      // Fastify's shape, not a Mailroom error class: its body reader (rawBody in fastify 5
      // lib/content-type-parser.js) turns a stream error into a 400 unless the error carries a
      // numeric `statusCode` >= 400, and the error handler (public-routes.ts) answers by it.
      timed.destroy(Object.assign(new Error(`the request body did not arrive within ${ms} ms`), { statusCode: 408, code: 'MAILROOM_READ_TIMEOUT' }));
    }, ms);
    const clear = () => clearTimeout(timer);
    payload.once('end', clear);
    payload.once('error', clear);
    request.raw.once('close', clear);
    payload.pipe(timed);
    return timed;
  });
}
