/**
 * Issue 17: the buffer domain found through the sender's manifest. Runtime B plays the remote
 * side: it hosts sender.example (manifest `About.Feedback: buffer.example`), buffer.example and
 * nobuffer.example (no buffer). Runtime A knows none of their buffers; its directory lists B's
 * inbox for them, and it trusts the keys of sender.example and nobuffer.example. A verified
 * envelope from sender.example that A discards (no handler for its subject) makes A fetch the
 * manifest by the protocol and send Feedback@Buffer to buffer.example, at B; one from
 * nobuffer.example ends noFeedback with the reason in its status. An envelope A cannot verify
 * never makes A fetch the manifest of the domain it claims (no reflector for forged envelopes).
 * B's answer to the manifest request is the reference's synchronous response envelope.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { startNatsServer, type NatsServerHandle } from '../support/nats-server.ts';
import { makeFixture, type Fixture } from '../support/runtime-fixture.ts';
import { waitFor } from '../support/wait-for.ts';
import { parseConfig } from '../../src/config/index.ts';
import { startMailroom } from '../../src/mailroom/start-mailroom.ts';
import type { Mailroom } from '../../src/core/mailroom-types.ts';
import type { Envelope } from '../../src/envelope/index.ts';

let server: NatsServerHandle;
let a: Mailroom;
let b: Mailroom;
let remote: Fixture;
const atB: Envelope[] = [];

beforeAll(async () => {
  server = await startNatsServer();
  const local = await makeFixture({ natsUrl: server.url, local: ['receiver.example'] });
  remote = await makeFixture({
    natsUrl: server.url,
    local: ['sender.example', 'buffer.example', 'nobuffer.example'],
    feedback: { 'sender.example': 'buffer.example' },
    extra: { keys: { trusted: [{ domain: 'receiver.example', selector: 'pw1', key: local.domains['receiver.example']!.dnsTxt }] } },
  });
  b = await startMailroom(remote.config);
  b.events.on('settled', (_status, envelope) => {
    if (envelope) atB.push(envelope);
  });
  const inbox = `${b.url}/inbox`;
  const directory = { 'sender.example': inbox, 'buffer.example': inbox, 'nobuffer.example': inbox };
  const trust = (domain: string) => ({ domain, selector: 'pw1', key: remote.domains[domain]!.dnsTxt });
  a = await startMailroom(parseConfig({ ...local.input, directory, keys: { trusted: [trust('sender.example'), trust('nobuffer.example')] } }, { baseDir: local.dir, env: {} }));

});
afterAll(async () => {
  await a?.stop();
  await b?.stop();
  await server?.stop();
});

/** A verified envelope A discards: A has no handler for `Nope@Host` (unknown-subject). */
async function postDiscarded(sender: string) {
  const correlation = randomUUID();
  const body = remote.domains[sender]!.signed({ To: 'receiver.example', Subject: 'Nope@Host', Correlation: correlation, Body: {} });
  const res = await fetch(`${a.url}/inbox`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  expect(res.status).toBe(202);
  return correlation;
}

describe('feedback through the sender’s manifest', () => {
  it('B answers the reference’s Anonymous Manifest@Domain (as pollyweb Msg.to_dict writes it) in the reference’s sync response form', async () => {
    const request = { Header: { From: 'Anonymous', To: 'sender.example', Subject: 'Manifest@Domain', Correlation: randomUUID(), Timestamp: new Date().toISOString(), Schema: 'pollyweb.org/MSG:1.0' }, Body: {} };
    const res = await fetch(`${b.url}/inbox`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(request) });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    const answer = (await res.json()) as Record<string, unknown>;
    // The reference's sync_response rule: exactly Request, Response and Meta; Response a mapping (the manifest).
    expect(Object.keys(answer).sort()).toEqual(['Meta', 'Request', 'Response']);
    expect(answer.Response).toEqual({ '🤝': 'pollyweb.org/MANIFEST:1.0', About: { Domain: 'sender.example', Feedback: 'buffer.example' } });
  });

  it('sends Feedback@Buffer to the buffer only the manifest names', async () => {
    const correlation = await postDiscarded('sender.example');
    const status = await waitFor(async () => {
      const s = await a.status('sender.example', correlation);
      return s?.final ? s : undefined;
    }, { what: 'the discard settled' });
    expect(status).toMatchObject({ state: 'feedbackSent', discard: { reason: 'unknown-subject' }, feedback: 'feedback: buffer.example, from the manifest of sender.example' });
    const feedback = await waitFor(() => atB.find((e) => e.Header.Subject === 'Feedback@Buffer' && (e.Body as { Correlation?: string }).Correlation === correlation), { what: 'Feedback@Buffer at B' });
    expect(feedback.Header).toMatchObject({ From: 'receiver.example', To: 'buffer.example' });
    expect(feedback.Body).toMatchObject({ Sender: 'sender.example', Status: 'Discarded' });
  });

  it('sends none when the manifest names no buffer, and says so in the status', async () => {
    const correlation = await postDiscarded('nobuffer.example');
    const status = await waitFor(async () => {
      const s = await a.status('nobuffer.example', correlation);
      return s?.final ? s : undefined;
    }, { what: 'the discard settled' });
    expect(status).toMatchObject({ state: 'noFeedback', feedback: 'feedback: none, manifest has no Feedback' });
  });

  it('never fetches the manifest of a domain an unverified envelope only claims', async () => {
    // From buffer.example, whose key A does not trust: key-not-found, so unverified. Had A fetched
    // its manifest, the status would say what the manifest held (it names no buffer).
    const correlation = await postDiscarded('buffer.example');
    const status = await waitFor(async () => {
      const s = await a.status('buffer.example', correlation);
      return s?.final ? s : undefined;
    }, { what: 'the discard settled' });
    expect(status).toMatchObject({ state: 'noFeedback', discard: { reason: 'key-not-found' }, feedback: 'feedback: none, buffer.example is not proven (signature not verified): its manifest is not fetched' });
  });
});
