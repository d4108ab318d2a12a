/**
 * The problem answers of the admin routes that map errors (`httpStatusOf`), byte for byte: the
 * workflow routes and `POST /conversations` (a `from` not hosted here is `not-local`). The
 * runtime behind the server is a plain object that throws the error under test; no NATS.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHttpServer, type HttpRuntime, type HttpServer } from '../../src/http/http-server.ts';
import { ConfigError, TransportError, UnknownWorkflowError, WorkflowAlreadyExistsError, WorkflowNotFoundError, WorkflowNotRunningError, InvalidWorkflowInputError } from '../../src/errors.ts';

let failure: unknown;
const fail = async (): Promise<never> => {
  throw failure;
};
const runtime = {
  startConversation: fail,
  workflows: { list: async () => [], get: async () => undefined, start: fail, send: fail, cancel: fail, resume: fail },
} as unknown as HttpRuntime;

let http: HttpServer;
beforeAll(async () => {
  http = await startHttpServer(runtime, { host: '127.0.0.1', port: 0, maxBodyBytes: 65_536, sendAs: ['orders.example'] });
});
afterAll(async () => {
  await http?.stop();
});

async function answer(error: unknown, method: string, url: string, payload: unknown) {
  failure = error;
  const response = await http.app.inject({ method: method as 'POST', url, headers: { 'content-type': 'application/json' }, payload: JSON.stringify(payload) });
  return { status: response.statusCode, type: response.headers['content-type'], body: response.body };
}

const json = 'application/json; charset=utf-8';

describe('problem answers', () => {
  it('answers POST /conversations from a domain not hosted here with 400 not-local', async () => {
    const error = new ConfigError('orders.example is not a domain hosted here; it has no signing key');
    expect(await answer(error, 'POST', '/conversations', { from: 'orders.example', to: 'shop.example', subject: 'Hello@Host' })).toEqual({
      status: 400,
      type: json,
      body: '{"error":"not-local","detail":"orders.example is not a domain hosted here; it has no signing key"}',
    });
  });

  it.each([
    ['POST', '/workflows/w-1/events', { type: 'go' }, new WorkflowNotFoundError('w-1'), 404, '{"error":"not-found","detail":"no workflow with id \\"w-1\\""}'],
    ['POST', '/workflows/w-1/cancel', {}, new WorkflowNotRunningError('w-1', 'done'), 409, 'conflict'],
    ['POST', '/workflows', { name: 'order', id: 'w-1' }, new WorkflowAlreadyExistsError('w-1'), 409, '{"error":"conflict","detail":"a workflow with id \\"w-1\\" exists already"}'],
    ['POST', '/workflows', { name: 'nope' }, new UnknownWorkflowError('nope', ['order']), 400, '{"error":"bad-request","detail":"no workflow is registered as \\"nope\\" (registered: order)"}'],
    ['POST', '/workflows/w-1/resume', {}, new InvalidWorkflowInputError('bad input'), 400, '{"error":"bad-request","detail":"bad input"}'],
    ['POST', '/workflows', { name: 'order' }, new TransportError('nats is gone'), 500, '{"error":"internal","detail":"nats is gone"}'],
  ] as const)('%s %s with %s answers %s', async (method, url, payload, error, status, body) => {
    const got = await answer(error, method, url, payload);
    expect(got.status).toBe(status);
    expect(got.type).toBe(json);
    if (body.startsWith('{')) expect(got.body).toBe(body);
    else expect(JSON.parse(got.body)).toEqual({ error: body, detail: (error as Error).message });
  });
});
