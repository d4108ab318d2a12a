/**
 * Issue 17: manifests from a graph domain (`manifestGraph`). The resolver's chain is config →
 * the graph → the sender's own inbox → none; the graph is asked with the protocol's manifest
 * request (unsigned, Anonymous, `Manifest@Domain` addressed to the sender) at the graph's inbox.
 * First the resolver alone against two recording servers, then two runtimes: B plays the graph
 * (it answers the manifests of the domains it hosts), A finds a sender's buffer through it.
 */
import { createServer, type Server } from 'node:http';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createManifestResolver } from '../../src/runtime/manifests.ts';
import { startNatsServer, type NatsServerHandle } from '../support/nats-server.ts';
import { makeFixture, type Fixture } from '../support/runtime-fixture.ts';
import { waitFor } from '../support/wait-for.ts';
import { parseConfig } from '../../src/config/index.ts';
import { startMailroom } from '../../src/mailroom/start-mailroom.ts';
import type { Mailroom } from '../../src/core/mailroom-types.ts';
import type { Envelope } from '../../src/envelope/index.ts';

interface Recorder {
  readonly server: Server;
  readonly url: string;
  /** Each manifest request: who it was addressed to, from whom, signed or not. */
  readonly asked: { to: string; from: string; subject: string; signed: boolean }[];
  /** The answer for a request addressed to `to`. */
  answer: (to: string) => { status: number; body: unknown };
}

async function recorder(): Promise<Recorder> {
  const asked: Recorder['asked'] = [];
  const r = { asked, answer: (_to: string) => ({ status: 404, body: {} }) } as Recorder & { server?: Server; url?: string };
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      const doc = JSON.parse(body) as { Header: { To: string; From: string; Subject: string }; Signature?: string };
      asked.push({ to: doc.Header.To, from: doc.Header.From, subject: doc.Header.Subject, signed: doc.Signature !== undefined });
      const { status, body: answer } = r.answer(doc.Header.To);
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(answer));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address() as { port: number };
  return Object.assign(r, { server, url: `http://127.0.0.1:${address.port}/inbox` });
}
const close = (server: Server | undefined) => new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
const manifest = (domain: string, feedback?: string) => ({ status: 200, body: { '🤝': 'pollyweb.org/MANIFEST:1.0', About: { Domain: domain, ...(feedback ? { Feedback: feedback } : {}) } } });

describe('the manifest resolver with a graph', () => {
  let graph: Recorder;
  let own: Recorder;
  beforeAll(async () => {
    graph = await recorder();
    own = await recorder();
  });
  afterAll(async () => {
    await close(graph?.server);
    await close(own?.server);
  });
  const resolverWith = (graphDomain: string | undefined) => {
    graph.asked.length = 0;
    own.asked.length = 0;
    return createManifestResolver({
      configured: (sender) => (sender === 'known.example' ? 'kb.example' : undefined),
      inboxUrl: (domain) => ({ url: domain === 'graph.example' ? graph.url : own.url, source: 'directory' }),
      graph: graphDomain,
    });
  };

  it('asks the graph first, with the unsigned Anonymous Manifest@Domain addressed to the sender', async () => {
    graph.answer = (to) => manifest(to, 'buf.example');
    own.answer = (to) => manifest(to, 'other-buf.example');
    const r = resolverWith('graph.example');
    expect(await r.bufferOf('a.example')).toEqual({ buffer: 'buf.example', source: 'graph', note: 'feedback: buf.example, from the manifest of a.example at the graph graph.example' });
    expect(graph.asked).toEqual([{ to: 'a.example', from: 'Anonymous', subject: 'Manifest@Domain', signed: false }]);
    expect(own.asked).toEqual([]);
    // The config still comes first.
    expect(await r.bufferOf('known.example')).toMatchObject({ buffer: 'kb.example', source: 'config' });
    expect(graph.asked).toHaveLength(1);
  });

  it('falls back to the sender’s own inbox when the graph fails, knows no buffer, or answers for another domain', async () => {
    own.answer = (to) => manifest(to, 'own-buf.example');
    for (const [answer, why] of [
      [{ status: 500, body: {} }, 'HTTP 500'],
      [manifest('b.example'), 'manifest has no Feedback'],
      [manifest('evil.example', 'evil-buf.example'), 'the manifest is of another domain (evil.example)'],
    ] as const) {
      graph.answer = () => answer;
      const r = resolverWith('graph.example');
      expect(await r.bufferOf('b.example'), why).toEqual({ buffer: 'own-buf.example', source: 'manifest', note: 'feedback: own-buf.example, from the manifest of b.example' });
      expect(graph.asked).toHaveLength(1);
      expect(own.asked).toEqual([{ to: 'b.example', from: 'Anonymous', subject: 'Manifest@Domain', signed: false }]);
    }
    // Neither knows: the status says why, for both.
    graph.answer = () => ({ status: 503, body: {} });
    own.answer = () => ({ status: 404, body: {} });
    expect(await resolverWith('graph.example').bufferOf('c.example')).toEqual({ note: 'feedback: none, no manifest from c.example (HTTP 404); the graph graph.example: HTTP 503' });
  });

  it('asks only the sender without a graph, and the graph itself directly', async () => {
    graph.answer = (to) => manifest(to, 'g-buf.example');
    own.answer = (to) => manifest(to, 'own-buf.example');
    expect(await resolverWith(undefined).bufferOf('d.example')).toMatchObject({ buffer: 'own-buf.example', source: 'manifest' });
    expect(graph.asked).toEqual([]);
    expect(await resolverWith('graph.example').bufferOf('graph.example')).toMatchObject({ buffer: 'g-buf.example', source: 'manifest' });
    expect(graph.asked).toEqual([{ to: 'graph.example', from: 'Anonymous', subject: 'Manifest@Domain', signed: false }]);
  });
});

describe('a second runtime playing the graph', () => {
  let server: NatsServerHandle;
  let a: Mailroom;
  let b: Mailroom;
  let remote: Fixture;
  let own: Recorder;
  const atB: Envelope[] = [];

  beforeAll(async () => {
    server = await startNatsServer();
    own = await recorder();
    // lone.example's own inbox knows its buffer; sender.example's own inbox answers nothing.
    own.answer = (to) => (to === 'lone.example' ? manifest('lone.example', 'buffer.example') : { status: 404, body: {} });
    const local = await makeFixture({ natsUrl: server.url, local: ['receiver.example'] });
    remote = await makeFixture({
      natsUrl: server.url,
      local: ['graph.example', 'sender.example', 'buffer.example'],
      remote: ['lone.example'],
      feedback: { 'sender.example': 'buffer.example' },
      extra: { keys: { trusted: [{ domain: 'receiver.example', selector: 'pw1', key: local.domains['receiver.example']!.dnsTxt }] } },
    });
    b = await startMailroom(remote.config);
    b.events.on('settled', (_status, envelope) => {
      if (envelope) atB.push(envelope);
    });
    const atGraph = `${b.url}/inbox`;
    const trust = (domain: string) => ({ domain, selector: 'pw1', key: remote.domains[domain]!.dnsTxt });
    a = await startMailroom(
      parseConfig(
        {
          ...local.input,
          manifestGraph: 'graph.example',
          directory: { 'graph.example': atGraph, 'buffer.example': atGraph, 'sender.example': own.url, 'lone.example': own.url },
          keys: { trusted: [trust('sender.example'), trust('lone.example')] },
        },
        { baseDir: local.dir, env: {} },
      ),
    );
  });
  afterAll(async () => {
    await a?.stop();
    await b?.stop();
    await close(own?.server);
    await server?.stop();
  });

  /** A verified envelope A discards (no handler for `Nope@Host`); its settled status. */
  async function discarded(sender: string) {
    const correlation = randomUUID();
    const body = remote.domains[sender]!.signed({ To: 'receiver.example', Subject: 'Nope@Host', Correlation: correlation, Body: {} });
    expect((await fetch(`${a.url}/inbox`, { method: 'POST', headers: { 'content-type': 'application/json' }, body })).status).toBe(202);
    const status = await waitFor(
      async () => {
        const s = await a.status(sender, correlation);
        return s?.final ? s : undefined;
      },
      { what: `the discard from ${sender} settled` },
    );
    return { correlation, status };
  }

  it('finds the buffer through the graph and sends Feedback@Buffer there, without asking the sender', async () => {
    const { correlation, status } = await discarded('sender.example');
    expect(status).toMatchObject({ state: 'feedbackSent', feedback: 'feedback: buffer.example, from the manifest of sender.example at the graph graph.example' });
    const feedback = await waitFor(() => atB.find((e) => e.Header.Subject === 'Feedback@Buffer' && (e.Body as { Correlation?: string }).Correlation === correlation), { what: 'Feedback@Buffer at B' });
    expect(feedback.Header).toMatchObject({ From: 'receiver.example', To: 'buffer.example' });
    expect(own.asked.filter((x) => x.to === 'sender.example')).toEqual([]);
  });

  it('asks the sender itself when the graph does not know it', async () => {
    const { correlation, status } = await discarded('lone.example');
    expect(status).toMatchObject({ state: 'feedbackSent', feedback: 'feedback: buffer.example, from the manifest of lone.example' });
    expect(own.asked).toEqual([{ to: 'lone.example', from: 'Anonymous', subject: 'Manifest@Domain', signed: false }]);
    await waitFor(() => atB.find((e) => e.Header.Subject === 'Feedback@Buffer' && (e.Body as { Correlation?: string }).Correlation === correlation), { what: 'Feedback@Buffer at B' });
  });
});
