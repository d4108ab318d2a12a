/**
 * Versioning: every stored snapshot records its machine's version. A process whose
 * registered machine changed runs an old workflow on a compatible definition, moves it with a
 * migration, or parks it with a reason, untouched. Two runtimes share one nats-server and
 * prefix here, as an old and a new deployment would.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assign, setup } from 'xstate';
import { startNatsServer, type NatsServerHandle } from '../support/nats-server.ts';
import { makeFixture, type Fixture } from '../support/runtime-fixture.ts';
import { startMailroom } from '../../src/mailroom/start-mailroom.ts';
import type { Mailroom } from '../../src/core/mailroom-types.ts';
import { machineVersion } from '../../src/workflows/machine-version.ts';
import { WorkflowNotRunningError } from '../../src/workflows/workflow-errors.ts';

let server: NatsServerHandle;
let f: Fixture;
const running: Mailroom[] = [];
const parkedReports: string[] = [];

/** A new runtime on the shared prefix: a deployment. */
async function deploy(): Promise<Mailroom> {
  const mailroom = await startMailroom(f.config, { http: false, onError: (e) => parkedReports.push(e instanceof Error ? e.message : String(e)) });
  running.push(mailroom);
  return mailroom;
}

beforeAll(async () => {
  server = await startNatsServer();
  f = await makeFixture({ natsUrl: server.url, local: ['docs.example'] });
});
afterAll(async () => {
  for (const m of running) await m.stop();
  await server?.stop();
});

// Version 1: draft → review → published.
const v1 = setup({ types: { context: {} as { title: string } } }).createMachine({
  id: 'doc',
  context: { title: 'untitled' },
  initial: 'draft',
  states: { draft: { on: { submit: 'review' } }, review: { on: { approve: 'published' } }, published: { type: 'final' } },
});
// Version 2: `review` was split into `legal` and `editorial`, and the context gained `approvals`.
const v2 = setup({ types: { context: {} as { title: string; approvals: number } } }).createMachine({
  id: 'doc',
  context: { title: 'untitled', approvals: 0 },
  initial: 'draft',
  states: {
    draft: { on: { submit: 'legal' } },
    legal: { on: { approve: { target: 'editorial', actions: assign({ approvals: ({ context }) => context.approvals + 1 }) } } },
    editorial: { on: { approve: { target: 'published', actions: assign({ approvals: ({ context }) => context.approvals + 1 }) } } },
    published: { type: 'final' },
  },
});

describe('workflow versions', () => {
  it('hashes the definition when no version is declared: same chart, same version; another chart, another', () => {
    expect(machineVersion(v1)).toBe(machineVersion(v1.provide({})));
    expect(machineVersion(v1)).not.toBe(machineVersion(v2));
    expect(machineVersion(v1)).toMatch(/^[0-9a-f]{12}$/);
  });

  it('parks a workflow whose version the new deployment neither runs nor migrates, and leaves it untouched', async () => {
    const old = await deploy();
    old.workflows.register(v1, { version: '1' });
    await old.workflows.start('doc', undefined, { id: 'doc-park' });
    const before = await old.workflows.send('doc-park', { type: 'submit' });
    expect(before).toMatchObject({ version: '1', state: 'review', seq: 2 });

    const next = await deploy();
    next.workflows.register(v2, { version: '2' });
    const parked = await next.workflows.send('doc-park', { type: 'approve' });
    expect(parked.status).toBe('parked');
    expect(parked.parked?.reason).toMatch(/version 1 of doc is not registered/);
    expect(parked.parked?.event).toEqual({ type: 'approve' });
    // The snapshot is as version 1 left it: nothing was run on a definition that does not fit.
    expect(parked).toMatchObject({ version: '1', state: 'review', context: { title: 'untitled' } });
    expect(parkedReports.some((r) => r.includes('doc-park') && r.includes('parked'))).toBe(true);
    await expect(next.workflows.send('doc-park', { type: 'approve' })).rejects.toBeInstanceOf(WorkflowNotRunningError);

    // The fix is deployed: version 2 migrates from 1. Resuming retries the event it was parked on.
    const fixed = await deploy();
    fixed.workflows.register(v2, {
      version: '2',
      migrations: { '1': (s) => ({ ...s, value: s.value === 'review' ? 'legal' : s.value, context: { ...(s.context as object), approvals: 0 } }) },
    });
    const resumed = await fixed.workflows.resume('doc-park');
    expect(resumed).toMatchObject({ status: 'running', version: '2', state: 'editorial', context: { title: 'untitled', approvals: 1 } });
    expect(resumed.history.map((h) => h.event)).toContain('mailroom.migrate 1 → 2');
    const done = await fixed.workflows.send('doc-park', { type: 'approve' });
    expect(done).toMatchObject({ status: 'done', state: 'published', context: { approvals: 2 } });
  });

  it('migrates at the next event when the new deployment has a migration', async () => {
    const old = await deploy();
    old.workflows.register(v1, { version: '1' });
    await old.workflows.start('doc', undefined, { id: 'doc-migrate' });
    await old.workflows.send('doc-migrate', { type: 'submit' });
    const next = await deploy();
    next.workflows.register(v2, { version: '2', migrations: { '1': (s) => ({ ...s, value: 'legal', context: { ...(s.context as object), approvals: 0 } }) } });
    const moved = await next.workflows.send('doc-migrate', { type: 'approve' });
    expect(moved).toMatchObject({ status: 'running', version: '2', state: 'editorial', context: { approvals: 1 } });
  });

  it('runs an old workflow as it is on a definition that declares itself compatible', async () => {
    const old = await deploy();
    old.workflows.register(v1, { version: '1' });
    await old.workflows.start('doc', undefined, { id: 'doc-compatible' });
    const next = await deploy();
    // A cosmetic change (a description) that keeps every state of version 1.
    const v1b = setup({ types: { context: {} as { title: string } } }).createMachine({
      id: 'doc',
      description: 'document approval',
      context: { title: 'untitled' },
      initial: 'draft',
      states: { draft: { on: { submit: 'review' } }, review: { on: { approve: 'published' } }, published: { type: 'final' } },
    });
    expect(machineVersion(v1b)).not.toBe(machineVersion(v1));
    next.workflows.register(v1b, { version: '1.1', compatibleWith: ['1'] });
    const moved = await next.workflows.send('doc-compatible', { type: 'submit' });
    expect(moved).toMatchObject({ status: 'running', version: '1.1', state: 'review' });
  });

  it('parks when a migration throws, or produces a state the machine does not have', async () => {
    const old = await deploy();
    old.workflows.register(v1, { version: '1' });
    await old.workflows.start('doc', undefined, { id: 'doc-throws' });
    await old.workflows.start('doc', undefined, { id: 'doc-nostate' });
    const next = await deploy();
    next.workflows.register(v2, {
      version: '2',
      migrations: {
        '1': (s) => {
          if ((s.context as { title: string }).title === 'untitled' && s.value === 'draft' && s['status'] === 'active') {
            throw new Error('cannot migrate drafts');
          }
          return s;
        },
      },
    });
    const threw = await next.workflows.send('doc-throws', { type: 'submit' });
    expect(threw.status).toBe('parked');
    expect(threw.parked?.reason).toMatch(/migration of doc from version 1 to 2 threw: cannot migrate drafts/);

    const other = await deploy();
    other.workflows.register(v2, { version: '2', migrations: { '1': (s) => ({ ...s, value: 'nowhere' }) } });
    const lost = await other.workflows.send('doc-nostate', { type: 'submit' });
    expect(lost.status).toBe('parked');
    expect(lost.parked?.reason).toMatch(/failed in version 2/);
    expect(lost).toMatchObject({ version: '1', state: 'draft' });
  });
});
