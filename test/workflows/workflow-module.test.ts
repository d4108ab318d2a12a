/** Workflow modules named in the config (`workflows:`), loaded by `mailroom start` and startMailroom. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import { startNatsServer, type NatsServerHandle } from '../support/nats-server.ts';
import { makeFixture } from '../support/runtime-fixture.ts';
import { parseConfig } from '../../src/config/index.ts';
import { startMailroom } from '../../src/mailroom/start-mailroom.ts';
import { loadWorkflowModule } from '../../src/workflows/workflow-module.ts';
import { ConfigError } from '../../src/errors.ts';

const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));
let server: NatsServerHandle;
beforeAll(async () => {
  server = await startNatsServer();
});
afterAll(async () => {
  await server?.stop();
});

describe('workflow modules', () => {
  it('loads a default-exported machine and a `workflows` list with options', async () => {
    expect((await loadWorkflowModule(fixture('counter.workflow.ts'))).map((e) => e.machine.id)).toEqual(['tally']);
    const listed = await loadWorkflowModule(fixture('listed.workflow.ts'));
    expect(listed).toEqual([expect.objectContaining({ options: { name: 'ping-pong', version: '7' } })]);
  });

  it('names what is wrong with a module that exports no machine, or does not load', async () => {
    await expect(loadWorkflowModule(fixture('not-a-machine.workflow.ts'))).rejects.toThrow(/must be an XState machine or \{ machine, options \}/);
    await expect(loadWorkflowModule(fixture('missing.workflow.ts'))).rejects.toBeInstanceOf(ConfigError);
  });

  it('registers the config’s workflow modules when the runtime starts', async () => {
    const f = await makeFixture({ natsUrl: server.url, local: ['tally.example'] });
    const config = parseConfig({ ...f.input, workflows: [fixture('counter.workflow.ts'), fixture('listed.workflow.ts')] }, { baseDir: f.dir, env: {} });
    const mailroom = await startMailroom(config, { http: false, onError: () => undefined });
    try {
      expect(mailroom.workflows.registered().map((w) => `${w.name}@${w.version}`).sort()).toEqual([expect.stringMatching(/^ping-pong@7$/), expect.stringMatching(/^tally@[0-9a-f]{12}$/)]);
      await mailroom.workflows.start('tally', undefined, { id: 't-1' });
      expect(await mailroom.workflows.send('t-1', { type: 'add' })).toMatchObject({ context: { count: 1 } });
    } finally {
      await mailroom.stop();
    }
  });
});
