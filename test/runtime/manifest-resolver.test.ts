import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createManifestResolver } from '../../src/runtime/manifests.ts';

let server: Server;
let url: string;
let asked: string[] = [];
let answer: { status: number; body: string } = { status: 200, body: '{}' };

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      asked.push((JSON.parse(body) as { Header: { To: string; Subject: string; From: string } }).Header.To);
      res.writeHead(answer.status, { 'content-type': 'application/json' }).end(answer.body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address() as { port: number };
  url = `http://127.0.0.1:${address.port}/inbox`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

function resolver(now: { t: number }, source: 'directory' | 'convention' = 'directory') {
  asked = [];
  return createManifestResolver({
    configured: (sender) => (sender === 'known.example' ? 'kb.example' : undefined),
    inboxUrl: (sender) => (sender === 'Anonymous' ? undefined : { url, source }),
    ttlMs: 1_000,
    negativeTtlMs: 100,
    now: () => now.t,
  });
}

describe('the manifest resolver', () => {
  it('takes the config first, without a fetch', async () => {
    const r = resolver({ t: 0 });
    expect(await r.bufferOf('known.example')).toEqual({ buffer: 'kb.example', source: 'config', note: 'feedback: kb.example, from the config' });
    expect(asked).toEqual([]);
  });

  it('fetches the manifest once and caches it for the TTL', async () => {
    const now = { t: 0 };
    const r = resolver(now);
    answer = { status: 200, body: JSON.stringify({ About: { Domain: 'a.example', Feedback: 'Buf.example' } }) };
    const [first, second] = await Promise.all([r.bufferOf('a.example'), r.bufferOf('a.example')]);
    expect(first).toEqual({ buffer: 'buf.example', source: 'manifest', note: 'feedback: buf.example, from the manifest of a.example' });
    expect(second).toEqual(first);
    expect(asked).toEqual(['a.example']);
    now.t = 999;
    await r.bufferOf('a.example');
    expect(asked).toHaveLength(1);
    now.t = 1_001;
    await r.bufferOf('a.example');
    expect(asked).toHaveLength(2);
  });

  it('caches a miss for the negative TTL, with its reason', async () => {
    const now = { t: 0 };
    const r = resolver(now);
    answer = { status: 200, body: JSON.stringify({ About: { Domain: 'b.example' } }) };
    expect(await r.bufferOf('b.example')).toEqual({ note: 'feedback: none, manifest has no Feedback' });
    answer = { status: 400, body: '{}' };
    expect(await r.bufferOf('c.example')).toEqual({ note: 'feedback: none, no manifest from c.example (HTTP 400)' });
    expect(await r.bufferOf('b.example')).toEqual({ note: 'feedback: none, manifest has no Feedback' });
    expect(asked).toEqual(['b.example', 'c.example']);
    now.t = 101;
    await r.bufferOf('b.example');
    expect(asked).toHaveLength(3);
    expect(await r.bufferOf('Anonymous')).toEqual({ note: 'feedback: none, Anonymous is not a domain' });
  });

  it('guards a conventional inbox URL against private networks', async () => {
    const r = resolver({ t: 0 }, 'convention');
    expect((await r.bufferOf('d.example')).note).toMatch(/^feedback: none, no manifest from d\.example \(.*(private|loopback).*\)$/i);
    expect(asked).toEqual([]);
  });
});
