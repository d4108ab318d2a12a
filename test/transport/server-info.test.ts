import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NatsConnection } from '@nats-io/transport-node';
import { connectNats } from '../../src/transport/connect.ts';
import { compareVersions, featuresForVersion, isAtLeast, parseVersion, serverInfo } from '../../src/transport/server-info.ts';
import { TransportError } from '../../src/errors.ts';
import { serverSupports, startNatsServer, type NatsServerHandle } from '../support/nats-server.ts';

describe('versions', () => {
  it('parse', () => {
    expect(parseVersion('2.9.10')).toEqual({ major: 2, minor: 9, patch: 10, prerelease: [] });
    expect(parseVersion('v2.12.0-RC.2')).toEqual({ major: 2, minor: 12, patch: 0, prerelease: ['RC', '2'] });
    expect(parseVersion('2.10')).toBeUndefined();
    expect(parseVersion('nats')).toBeUndefined();
  });

  it('compare numerically, with prereleases before their release', () => {
    const ordered = ['2.2.0', '2.9.9', '2.9.10', '2.10.0', '2.11.0-RC.1', '2.11.0-RC.2', '2.11.0-RC.10', '2.11.0', '2.11.1', '3.0.0'];
    for (let i = 0; i < ordered.length; i++) {
      for (let j = 0; j < ordered.length; j++) {
        expect(Math.sign(compareVersions(ordered[i]!, ordered[j]!)), `${ordered[i]} vs ${ordered[j]}`).toBe(Math.sign(i - j));
      }
    }
    expect(compareVersions('v2.9.10', '2.9.10')).toBe(0);
    expect(() => compareVersions('2.9', '2.9.0')).toThrow(TransportError);
  });

  it('switch features on at their first version', () => {
    expect(featuresForVersion('2.9.10')).toEqual({ version: '2.9.10', jetstream: true, msgTtl: false, schedules: false, consumerPauseAndPriority: false, kvPerKeyTtl: false });
    expect(featuresForVersion('2.11.0')).toMatchObject({ msgTtl: true, schedules: false, consumerPauseAndPriority: true, kvPerKeyTtl: true });
    expect(featuresForVersion('2.12.1')).toMatchObject({ msgTtl: true, schedules: true });
    expect(featuresForVersion('2.11.0-RC.1').msgTtl).toBe(false);
    expect(featuresForVersion('2.10.0', false).jetstream).toBe(false);
    expect(isAtLeast('2.10.0', '2.9.10')).toBe(true);
  });
});

describe('serverInfo against a real server', () => {
  let js: NatsServerHandle;
  let plain: NatsServerHandle;
  let ncJs: NatsConnection;
  let ncPlain: NatsConnection;

  beforeAll(async () => {
    [js, plain] = await Promise.all([startNatsServer(), startNatsServer({ jetstream: false })]);
    [ncJs, ncPlain] = await Promise.all([connectNats({ url: js.url }), connectNats({ url: plain.url })]);
  });
  afterAll(async () => {
    await Promise.all([ncJs?.close(), ncPlain?.close()]);
    await Promise.all([js?.stop(), plain?.stop()]);
  });

  it('reads the version the server logged and its features', () => {
    const info = serverInfo(ncJs);
    expect(info.version).toBe(js.version);
    expect(parseVersion(info.version)).toBeDefined();
    expect(info).toEqual(featuresForVersion(js.version, true));
    expect(info.jetstream).toBe(true);
    expect(serverSupports(js.version, 'msgTtl')).toBe(info.msgTtl);
  });

  it('on nats-server 2.9.10, has none of the newer features', (ctx) => {
    if (js.version !== '2.9.10') ctx.skip();
    expect(serverInfo(ncJs)).toEqual({ version: '2.9.10', jetstream: true, msgTtl: false, schedules: false, consumerPauseAndPriority: false, kvPerKeyTtl: false });
  });

  it('reports JetStream off when the server runs without it', () => {
    expect(serverInfo(ncPlain).jetstream).toBe(false);
  });
});
