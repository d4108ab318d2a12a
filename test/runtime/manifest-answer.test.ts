/**
 * Issue 17: the answer to `Manifest@Domain` in the forms the Python reference uses. Its inboxes
 * answer in the synchronous response envelope `{ Request, Response, Meta }` (pollyweb
 * `Msg.parse(..., sync_response=True)`, `Domain.fetch_manifest`), and its `fetch_manifest` also
 * reads a bare manifest or a message whose Body is the manifest. Mailroom reads all three, and
 * answers in the first (test/http/manifest-request.test.ts).
 */
import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createManifestResolver, manifestIn } from '../../src/runtime/manifests.ts';

/** The wrapped answer as the reference's own test of `fetch_manifest` gives it (tests/test_domain.py), with a buffer. */
const referenceAnswer = {
  Request: { Header: { Subject: 'Manifest@Domain' } },
  Response: { About: { Domain: 'any-domain.example', Title: 'Any Domain', Feedback: 'buffer.example' } },
  Meta: { Code: 200 },
};

describe('reading a manifest answer', () => {
  it('unwraps the reference’s synchronous response envelope, reads a bare manifest and a message’s Body', () => {
    expect(manifestIn(referenceAnswer)).toEqual(referenceAnswer.Response);
    expect(manifestIn(referenceAnswer.Response)).toEqual(referenceAnswer.Response);
    expect(manifestIn({ Header: { From: 'any-domain.example', Subject: 'Manifest@Domain' }, Body: referenceAnswer.Response, Hash: 'h', Signature: 's' })).toEqual(referenceAnswer.Response);
    for (const bad of [null, 'text', [referenceAnswer], { Request: {}, Response: 'no', Meta: {} }, { Header: {}, Body: [] }]) expect(manifestIn(bad)).toBeUndefined();
  });

  describe('over HTTP', () => {
    let server: Server;
    let url: string;
    let answer: unknown = referenceAnswer;
    beforeAll(async () => {
      server = createServer((req, res) => {
        req.resume();
        req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(answer)));
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      url = `http://127.0.0.1:${(server.address() as { port: number }).port}/inbox`;
    });
    afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const resolver = () => createManifestResolver({ configured: () => undefined, inboxUrl: () => ({ url, source: 'directory' }) });

    it('finds the buffer in a reference-form answer', async () => {
      expect(await resolver().bufferOf('any-domain.example')).toEqual({ buffer: 'buffer.example', source: 'manifest', note: 'feedback: buffer.example, from the manifest of any-domain.example' });
    });

    it('ignores a wrapped manifest of another domain', async () => {
      answer = { ...referenceAnswer, Response: { About: { Domain: 'evil.example', Feedback: 'evil-buffer.example' } } };
      expect(await resolver().bufferOf('any-domain.example')).toEqual({ note: 'feedback: none, no manifest from any-domain.example (the manifest is of another domain (evil.example))' });
    });
  });
});
