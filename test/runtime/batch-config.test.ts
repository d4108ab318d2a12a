/**
 * `delivery.subjects.<subject>.batch` in the config: parsed, refused when malformed, and refused
 * at start when the batch could never fill or finish (before anything connects to NATS).
 */
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/index.ts';
import { ConfigError } from '../../src/errors.ts';
import { startMailroom } from '../../src/mailroom/start-mailroom.ts';
import { makeFixture } from '../support/runtime-fixture.ts';

const subjectsOf = (batch: unknown) => parseConfig({ delivery: { subjects: { 'Order@Shop': { batch } } } }, { env: {} }).delivery.subjects['Order@Shop'];

describe('delivery.subjects.<subject>.batch', () => {
  it('parses maxSize and maxWait (as maxWaitMs); either may be left to the defaults', () => {
    expect(subjectsOf({ maxSize: 25, maxWait: '2s' })).toEqual({ batch: { maxSize: 25, maxWaitMs: 2_000 } });
    expect(subjectsOf({ maxWait: 250 })).toEqual({ batch: { maxWaitMs: 250 } });
    expect(subjectsOf({})).toEqual({ batch: {} });
  });

  it('refuses a malformed batch with a ConfigError naming the field', () => {
    const issueOf = (batch: unknown) => {
      try {
        subjectsOf(batch);
      } catch (error) {
        expect(error).toBeInstanceOf(ConfigError);
        return (error as ConfigError).issues.map((i) => `${i.path}: ${i.message}`).join('\n');
      }
      return undefined;
    };
    expect(issueOf({ maxSize: 2_000 })).toMatch(/maxSize.*1024/);
    expect(issueOf({ maxSize: 0 })).toMatch(/maxSize/);
    expect(issueOf({ maxWait: 'soon' })).toMatch(/maxWait/);
    expect(issueOf({ size: 10 })).toMatch(/size/);
  });

  it('refuses at start a batch that could never finish (maxWait as long as the handler timeout), before connecting', async () => {
    // Nothing listens on port 1: a start that got as far as connecting would fail otherwise.
    const fixture = await makeFixture({
      natsUrl: 'nats://127.0.0.1:1',
      local: ['shop.example'],
      extra: { delivery: { handlerTimeout: '5s', subjects: { 'Order@Shop': { batch: { maxSize: 10, maxWait: '5s' } } } } },
    });
    const error = await startMailroom(fixture.config, { http: false }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).issues).toEqual([{ path: 'delivery.subjects.Order@Shop.batch.maxWait', message: expect.stringMatching(/handler timeout \(5000 ms\)/) }]);
  });

  it('refuses at start a batch larger than delivery.concurrency', async () => {
    const fixture = await makeFixture({
      natsUrl: 'nats://127.0.0.1:1',
      local: ['shop.example'],
      extra: { delivery: { concurrency: 8, subjects: { 'Order@Shop': { batch: { maxSize: 10 } } } } },
    });
    await expect(startMailroom(fixture.config, { http: false })).rejects.toThrow(/maxSize 10 is more than delivery\.concurrency \(8\)/);
  });
});
