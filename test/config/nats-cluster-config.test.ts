import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/index.ts';
import { catchConfigError } from './support.ts';

const BASE = '/srv/mailroom';
const URL = 'nats://n1:4222,nats://n2:4222';

describe('nats: replicas, placement, auth and TLS', () => {
  it('takes replicas 1, 3 or 5 (default 1) and a placement', () => {
    expect(parseConfig({}, { baseDir: BASE }).nats).toMatchObject({ replicas: 1, forceProvision: false });
    expect(parseConfig({ nats: { replicas: 3, placement: { cluster: 'east' } } }).nats).toMatchObject({ replicas: 3, placement: { cluster: 'east', tags: [] } });
    const error = catchConfigError(() => parseConfig({ nats: { replicas: 2 } }));
    expect(error.issues).toEqual([expect.objectContaining({ path: 'nats.replicas', message: expect.stringContaining('1, 3 or 5') })]);
  });

  it('resolves credential and TLS files against the config folder', () => {
    const config = parseConfig({ nats: { url: URL, auth: { creds: 'nats/app.creds' }, tls: { ca: 'ca.pem', cert: 'c.pem', key: 'k.pem' } } }, { baseDir: BASE });
    expect(config.nats.auth).toEqual({ creds: '/srv/mailroom/nats/app.creds' });
    expect(config.nats.tls).toEqual({ ca: '/srv/mailroom/ca.pem', cert: '/srv/mailroom/c.pem', key: '/srv/mailroom/k.pem' });
  });

  it('wants one way to authenticate, user with password, cert with key, and a url', () => {
    const issues = (nats: unknown) => catchConfigError(() => parseConfig({ nats })).issues.map((i) => `${i.path}: ${i.message}`);
    expect(issues({ url: URL, auth: { token: 's3cret-token', creds: 'a.creds' } })).toEqual(['nats.auth: give one way to authenticate, not token and creds']);
    expect(issues({ url: URL, auth: { user: 'app' } })).toEqual(['nats.auth.password: user and password go together']);
    expect(issues({ url: URL, auth: {} })[0]).toContain('give one of');
    expect(issues({ url: URL, tls: { cert: 'c.pem' } })).toEqual(['nats.tls.key: cert and key go together (a client certificate and its key)']);
    expect(issues({ auth: { token: 's3cret-token' } })[0]).toMatch(/^nats.auth: applies to nats.url only/);
  });

  it('never repeats a secret in an issue', () => {
    const error = catchConfigError(() => parseConfig({ nats: { url: URL, auth: { token: 's3cret-token', password: 'hunter2-password' } } }));
    expect(JSON.stringify(error.issues) + error.message).not.toMatch(/s3cret|hunter2/);
  });

  it('reads replicas and credentials from the environment; auth variables replace the file\'s auth', () => {
    const env = { MAILROOM_NATS_URL: URL, MAILROOM_NATS_REPLICAS: '3', MAILROOM_NATS_TOKEN: 'from-env', MAILROOM_NATS_TLS_CA: '/etc/ca.pem' };
    const config = parseConfig({ nats: { auth: { user: 'app', password: 'file-password' }, tls: { cert: 'c.pem', key: 'k.pem' } } }, { baseDir: BASE, env });
    expect(config.nats).toMatchObject({ url: URL, replicas: 3, auth: { token: 'from-env' }, tls: { ca: '/etc/ca.pem', cert: '/srv/mailroom/c.pem', key: '/srv/mailroom/k.pem' } });
    expect(parseConfig({}, { baseDir: BASE, env: { NATS_URL: URL, MAILROOM_NATS_USER: 'app', MAILROOM_NATS_PASSWORD: 'pw' } }).nats.auth).toEqual({ user: 'app', password: 'pw' });
    expect(parseConfig({}, { baseDir: BASE, env: { NATS_URL: URL, MAILROOM_NATS_CREDS: 'x.creds' } }).nats.auth).toEqual({ creds: '/srv/mailroom/x.creds' });
    const bad = catchConfigError(() => parseConfig({}, { env: { MAILROOM_NATS_REPLICAS: 'three' } }));
    expect(bad.issues[0]).toMatchObject({ path: 'MAILROOM_NATS_REPLICAS' });
  });
});
