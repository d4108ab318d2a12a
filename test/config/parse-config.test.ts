import { describe, expect, it, vi } from 'vitest';
import { ConfigError } from '../../src/errors.ts';
import { MailroomConfig, parseConfig, parseConfigYaml, type MailroomConfigInput } from '../../src/config/index.ts';
import { catchConfigError, FULL_EXAMPLE_YAML, SHOP_KEY } from './support.ts';

const BASE = '/srv/mailroom';
const orders = { name: 'orders.example', selector: 'pw1', privateKey: './keys/orders.pem' };

describe('parseConfig: the full example', () => {
  it('parses every field, durations in ms and paths absolute', () => {
    const config = parseConfig(parseConfigYaml(FULL_EXAMPLE_YAML), { baseDir: BASE });
    const expected: MailroomConfig = {
      nats: {
        url: 'nats://127.0.0.1:4222',
        embedded: { storeDir: '/srv/mailroom/.mailroom/nats', port: 0, configFile: '/srv/mailroom/nats.conf' },
        prefix: 'mailroom',
        replicas: 1,
        forceProvision: false,
      },
      http: {
        host: '127.0.0.1',
        port: 8080,
        publicUrl: 'http://127.0.0.1:8080',
        maxBodyBytes: 262_144,
        tls: { cert: '/srv/mailroom/tls/cert.pem', key: '/srv/mailroom/tls/key.pem' },
        adminTokens: [],
        metrics: 'admin',
        sendAs: [],
        readTimeoutMs: 10_000,
      },
      inbox: { retryAfterMs: 2_000 },
      domains: [
        {
          name: 'orders.example',
          selector: 'pw1',
          privateKey: '/srv/mailroom/keys/orders.example.pw1.pem',
          handlers: '/srv/mailroom/examples/orders/handlers.ts',
          feedback: 'buffer.example',
        },
      ],
      keys: {
        trusted: [
          { domain: 'shop.example', selector: 'pw1', key: SHOP_KEY },
          { domain: 'shop.example', selector: 'pw2', key: { file: '/srv/mailroom/keys/shop.pw2.pem' } },
        ],
        dns: { enabled: false, servers: ['1.1.1.1'], requireDnssec: true, timeoutMs: 2_000, cacheTtlMs: 300_000 },
      },
      directory: { 'partner.example': 'https://partner.example/inbox' },
      peers: {},
      manifests: { 'shop.example': { feedback: 'buffer.example' } },
      topics: {},
      workflows: [],
      validation: { maxSkewMs: 300_000, maxAgeMs: 900_000, replayWindowMs: 86_400_000, strict: false },
      crypto: {},
      delivery: { maxAttempts: 5, ackWaitMs: 30_000, retry: { initialDelayMs: 1_000, maxDelayMs: 60_000, multiplier: 2 }, concurrency: 64, handlerTimeoutMs: 30_000, stopGraceMs: 10_000, subjects: {} },
      outbox: { maxAttempts: 8, retry: { initialDelayMs: 1_000, maxDelayMs: 300_000, multiplier: 2 }, allowPrivateNetworks: false },
      status: { ttlMs: 7 * 86_400_000 },
      feedback: { rate: 1, burst: 10 },
    };
    expect(config).toEqual(expected);
  });

  it('gives the same result from an empty file as from the defaults of the example', () => {
    const defaults = parseConfig(null, { baseDir: BASE });
    expect(defaults).toEqual({
      nats: { embedded: { storeDir: '/srv/mailroom/.mailroom/nats', port: 0 }, prefix: 'mailroom', replicas: 1, forceProvision: false },
      http: { host: '127.0.0.1', port: 8080, publicUrl: 'http://127.0.0.1:8080', maxBodyBytes: 262_144, adminTokens: [], metrics: 'admin', sendAs: [], readTimeoutMs: 10_000 },
      inbox: { retryAfterMs: 2_000 },
      domains: [],
      keys: { trusted: [], dns: { enabled: false, servers: [], requireDnssec: true, timeoutMs: 2_000, cacheTtlMs: 300_000 } },
      directory: {},
      peers: {},
      manifests: {},
      topics: {},
      workflows: [],
      validation: { maxSkewMs: 300_000, maxAgeMs: 900_000, replayWindowMs: 86_400_000, strict: false },
      crypto: {},
      delivery: { maxAttempts: 5, ackWaitMs: 30_000, retry: { initialDelayMs: 1_000, maxDelayMs: 60_000, multiplier: 2 }, concurrency: 64, handlerTimeoutMs: 30_000, stopGraceMs: 10_000, subjects: {} },
      outbox: { maxAttempts: 8, retry: { initialDelayMs: 1_000, maxDelayMs: 300_000, multiplier: 2 }, allowPrivateNetworks: false },
      status: { ttlMs: 7 * 86_400_000 },
      feedback: { rate: 1, burst: 10 },
    });
  });

  it('reads the HTTP security fields: admin tokens (the env adds more), admin listener, sendAs of hosted domains only', () => {
    const token = 'file-token-0123456789';
    const input = { http: { adminTokens: [token], admin: { port: 8081 }, sendAs: ['orders.example'], readTimeout: '2s', metrics: 'public' }, domains: [{ name: 'orders.example', selector: 'pw1', privateKey: 'k.pem' }] };
    const config = parseConfig(input, { baseDir: BASE, env: { MAILROOM_ADMIN_TOKEN: 'env-token-0123456789a, env-token-0123456789b', MAILROOM_STATUS_SECRET: 'a-status-secret-0123456789' } });
    expect(config.http).toMatchObject({ adminTokens: [token, 'env-token-0123456789a', 'env-token-0123456789b'], admin: { host: '127.0.0.1', port: 8081 }, sendAs: ['orders.example'], readTimeoutMs: 2_000, metrics: 'public', statusSecret: 'a-status-secret-0123456789' });
    const error = catchConfigError(() => parseConfig({ ...input, http: { adminTokens: ['short'], sendAs: ['shop.example'], admin: { port: 8080 } } }, { baseDir: BASE, env: {} }));
    expect(error.issues.map((i) => i.path).sort()).toEqual(['http.admin.port', 'http.adminTokens.0', 'http.sendAs.0']);
  });

  it('reads the handler timeout and the stop grace, in ms, also per subject', () => {
    const { delivery } = parseConfig({ delivery: { handlerTimeout: '5s', stopGrace: '2s', subjects: { 'Report@Shop': { handlerTimeout: '5m' }, 'Pay@Shop': { maxInFlight: 4 } } } });
    expect(delivery).toMatchObject({ handlerTimeoutMs: 5_000, stopGraceMs: 2_000 });
    expect(delivery.subjects).toEqual({ 'Report@Shop': { handlerTimeoutMs: 300_000 }, 'Pay@Shop': { maxInFlight: 4 } });
    const error = catchConfigError(() => parseConfig({ delivery: { handlerTimeout: 0, subjects: { 'Report@Shop': { handlerTimeout: 'soon' } } } }));
    expect(error.issues.map((issue) => issue.path)).toEqual(['delivery.handlerTimeout', 'delivery.subjects["Report@Shop"].handlerTimeout']);
  });

  it('crypto.workers: auto, a number of worker threads, or 0; anything else is refused by name', () => {
    expect(parseConfig({ crypto: { workers: 'auto' } }).crypto).toEqual({ workers: 'auto' });
    expect(parseConfig({ crypto: { workers: 3 } }).crypto).toEqual({ workers: 3 });
    expect(parseConfig({ crypto: { workers: 0 } }).crypto).toEqual({ workers: 0 });
    expect(parseConfig({}).crypto).toEqual({});
    for (const workers of ['many', -1, 1.5, 65]) {
      expect(catchConfigError(() => parseConfig({ crypto: { workers } })).issues).toEqual([expect.objectContaining({ path: 'crypto.workers' })]);
    }
    expect(catchConfigError(() => parseConfig({ crypto: { threads: 2 } })).issues).toEqual([expect.objectContaining({ path: 'crypto.threads' })]);
  });

  it('status expiry and feedback limits: durations and positive numbers, strict', () => {
    const config = parseConfig({ status: { ttl: '1h' }, feedback: { rate: 0.5, burst: 3 } }, { baseDir: BASE });
    expect(config.status).toEqual({ ttlMs: 3_600_000 });
    expect(config.feedback).toEqual({ rate: 0.5, burst: 3 });
    expect(catchConfigError(() => parseConfig({ feedback: { rate: 0 } }, { baseDir: BASE })).issues).toEqual([expect.objectContaining({ path: 'feedback.rate' })]);
    expect(catchConfigError(() => parseConfig({ status: { ttl: 0 } }, { baseDir: BASE })).issues).toEqual([expect.objectContaining({ path: 'status.ttl' })]);
    expect(catchConfigError(() => parseConfig({ status: { maxAge: '1d' } }, { baseDir: BASE })).issues).toEqual([expect.objectContaining({ path: 'status.maxAge' })]);
  });

  it('treats empty YAML values as absent', () => {
    const config = parseConfig(parseConfigYaml('nats:\n  url:\nhttp:\ndomains:\nvalidation:\n  maxAge:\n'));
    expect(config.nats.url).toBeUndefined();
    expect(config.http.port).toBe(8080);
    expect(config.domains).toEqual([]);
    expect(config.validation.maxAgeMs).toBe(900_000);
  });
});

describe('parseConfig: paths', () => {
  it('resolves relative paths against baseDir and keeps absolute ones', () => {
    const config = parseConfig(
      { domains: [{ ...orders, privateKey: '../secrets/orders.pem', handlers: '/opt/handlers.ts' }], nats: { embedded: { storeDir: 'data' } } },
      { baseDir: BASE },
    );
    expect(config.domains[0]?.privateKey).toBe('/srv/secrets/orders.pem');
    expect(config.domains[0]?.handlers).toBe('/opt/handlers.ts');
    expect(config.nats.embedded.storeDir).toBe('/srv/mailroom/data');
  });

  it('resolves against the working directory without a baseDir', () => {
    expect(parseConfig({ domains: [orders] }).domains[0]?.privateKey).toBe(`${process.cwd()}/keys/orders.pem`);
    expect(MailroomConfig.parse({}).nats.embedded.storeDir).toBe(`${process.cwd()}/.mailroom/nats`);
  });
});

describe('parseConfig: errors', () => {
  it('lists every mistake at once, each with its dotted path', () => {
    const error = catchConfigError(() =>
      parseConfig({
        nats: { url: 'http://nats.example:4222', prefix: 'mail.room' },
        http: { port: 70_000, host: 'bad host', tls: { cert: 'c.pem' } },
        domains: [{ name: 'orders.example', selector: 'pw1' }, { name: 'localhost', selector: 'pw1', privateKey: 'k.pem', feedback: 'x' }],
        keys: { trusted: [{ domain: 'shop.example', selector: 'pw1', key: 'not a key' }], dns: { servers: ['dns.google'] } },
        directory: { 'partner.example': 'ftp://partner.example/inbox' },
        delivery: { maxAttempts: 0, concurrency: 1.5 },
      }),
    );
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.issues.map((issue) => issue.path)).toEqual([
      'nats.url',
      'nats.prefix',
      'http.host',
      'http.port',
      'http.tls.key',
      'domains.0.privateKey',
      'domains.1.name',
      'domains.1.feedback',
      'keys.trusted.0.key',
      'keys.dns.servers.0',
      'directory["partner.example"]',
      'delivery.maxAttempts',
      'delivery.concurrency',
    ]);
    expect(error.issues).toContainEqual({ path: 'domains.0.privateKey', message: 'required' });
    expect(error.message).toMatch(/^invalid configuration: 13 problems\n/);
    expect(error.message).toContain('\n  domains.0.privateKey: required');
  });

  it('refuses unknown keys at every level, with a hint', () => {
    const error = catchConfigError(() =>
      parseConfig({ domians: [orders], http: { prot: 80 }, domains: [{ ...orders, privateKye: 'x' }], delivery: { retry: { backoff: 2 } } }),
    );
    expect(error.issues.map((issue) => issue.path)).toEqual(['http.prot', 'domains.0.privateKye', 'delivery.retry.backoff', 'domians']);
    expect(error.issues.find((issue) => issue.path === 'domians')?.message).toMatch(/^unknown key \(did you mean "domains"\?\)/);
    expect(error.issues.find((issue) => issue.path === 'http.prot')?.message).toContain('did you mean "port"?');
    expect(error.issues.find((issue) => issue.path === 'delivery.retry.backoff')?.message).not.toContain('did you mean');
  });

  it('reports one issue per unknown key in the same object', () => {
    const error = catchConfigError(() => parseConfig({ hhtp: {}, natss: {} }));
    expect(error.issues).toEqual([
      { path: 'hhtp', message: expect.stringContaining('did you mean "http"?') },
      { path: 'natss', message: expect.stringContaining('did you mean "nats"?') },
    ]);
  });

  it.each([
    ['a string', 'mailroom'],
    ['a list', [1, 2]],
    ['a number', 42],
  ])('refuses %s at the top level with a ConfigError, never a ZodError', (_what, input) => {
    const error = catchConfigError(() => parseConfig(input));
    expect(error.issues).toEqual([{ path: '$', message: expect.stringMatching(/^expected a mapping/) }]);
  });

  it('refuses the same domain twice and the same pinned key twice', () => {
    const error = catchConfigError(() =>
      parseConfig({
        domains: [orders, { ...orders, name: 'Orders.Example' }],
        keys: { trusted: [{ domain: 'shop.example', selector: 'pw1', key: SHOP_KEY }, { domain: 'SHOP.example', selector: 'pw1', key: { file: 'k' } }] },
      }),
    );
    expect(error.issues.map((issue) => issue.path)).toEqual(['domains.1.name', 'keys.trusted.1.selector']);
  });

  it('points into a { file } key object', () => {
    const error = catchConfigError(() => parseConfig({ keys: { trusted: [{ domain: 'shop.example', selector: 'pw1', key: { flie: 'x' } }] } }));
    expect(error.issues.map((issue) => issue.path)).toEqual(['keys.trusted.0.key.file', 'keys.trusted.0.key.flie']);
  });
});

describe('parseConfig: domain names', () => {
  it.each(['orders.example', 'a.b.c.example', 'xn--bcher-kva.example', 'a-1.example', `${'a'.repeat(63)}.example`])('accepts %s', (name) => {
    expect(parseConfig({ domains: [{ ...orders, name }] }).domains[0]?.name).toBe(name);
  });

  it.each(['localhost', 'orders.example.', '-orders.example', 'orders-.example', 'ord_ers.example', 'bücher.example', '10.0.0.1', `${'a'.repeat(64)}.example`, 'a..example', 'orders.example/x'])(
    'refuses %s',
    (name) => {
      const error = catchConfigError(() => parseConfig({ domains: [{ ...orders, name }] }));
      expect(error.issues.map((issue) => issue.path)).toEqual(['domains.0.name']);
    },
  );

  it('lower-cases names, in lists and as keys', () => {
    const config = parseConfig({ domains: [{ ...orders, name: 'Orders.Example' }], directory: { 'Partner.Example': 'https://p.example/inbox' } });
    expect(config.domains[0]?.name).toBe('orders.example');
    expect(config.directory).toEqual({ 'partner.example': 'https://p.example/inbox' });
  });
});

describe('parseConfig: http.publicUrl', () => {
  it.each<[MailroomConfigInput['http'], string | undefined]>([
    [{}, 'http://127.0.0.1:8080'],
    [{ host: '0.0.0.0', port: 80 }, 'http://localhost'],
    [{ host: '::1', port: 9000 }, 'http://[::1]:9000'],
    [{ port: 8443, tls: { cert: 'c', key: 'k' } }, 'https://127.0.0.1:8443'],
    [{ port: 0 }, undefined],
    [{ port: 0, publicUrl: 'https://mailroom.example/base/' }, 'https://mailroom.example/base'],
  ])('%j → %s', (http, publicUrl) => {
    expect(parseConfig({ http }).http.publicUrl).toBe(publicUrl);
  });
});

describe('parseConfig: environment overrides', () => {
  const file = { nats: { url: 'nats://file:4222' }, http: { host: '127.0.0.1', port: 8080, publicUrl: 'https://file.example' } };

  it('win over the file', () => {
    const config = parseConfig(file, {
      env: { NATS_URL: 'nats://env:4222', PORT: '3000', MAILROOM_HTTP_HOST: '0.0.0.0', MAILROOM_PUBLIC_URL: 'https://env.example/' },
    });
    expect(config.nats.url).toBe('nats://env:4222');
    expect(config.http).toMatchObject({ host: '0.0.0.0', port: 3000, publicUrl: 'https://env.example' });
  });

  it('prefer the MAILROOM_ variables and ignore empty ones', () => {
    const config = parseConfig(file, {
      env: { NATS_URL: 'nats://generic:4222', MAILROOM_NATS_URL: 'tls://specific:4222', PORT: '3000', MAILROOM_HTTP_PORT: '0', MAILROOM_HTTP_HOST: '' },
    });
    expect(config.nats.url).toBe('tls://specific:4222');
    expect(config.http.port).toBe(0);
    expect(config.http.host).toBe('127.0.0.1');
  });

  it('fill in sections the file does not have, and leave the input untouched', () => {
    const input = { domains: [orders] };
    const config = parseConfig(input, { env: { NATS_URL: 'nats://env:4222', PORT: '9999' } });
    expect(config.nats.url).toBe('nats://env:4222');
    expect(config.http.port).toBe(9999);
    expect(input).toEqual({ domains: [orders] });
  });

  it.each([
    ['PORT', 'eighty', 'http.port'],
    ['MAILROOM_HTTP_PORT', '65536', 'http.port'],
    ['MAILROOM_HTTP_PORT', '-1', 'http.port'],
    ['NATS_URL', 'http://nats.example', 'nats.url'],
    ['MAILROOM_HTTP_HOST', 'not a host', 'http.host'],
    ['MAILROOM_PUBLIC_URL', 'mailroom.example', 'http.publicUrl'],
  ])('a bad %s (%s) is a ConfigError naming the variable', (variable, value, overrides) => {
    const error = catchConfigError(() => parseConfig(file, { env: { [variable]: value } }));
    expect(error.issues).toEqual([{ path: variable, message: expect.stringContaining(`(overrides ${overrides})`) }]);
    expect(error.message).toContain(`\n  ${variable}: `);
  });

  it('never echo a NATS URL, which may hold credentials', () => {
    const error = catchConfigError(() => parseConfig({}, { env: { MAILROOM_NATS_URL: 'ftp://user:secret@nats.example' } }));
    expect(error.message).not.toContain('secret');
  });

  it('are not read from process.env unless asked', () => {
    vi.stubEnv('PORT', '1234');
    try {
      expect(parseConfig({}).http.port).toBe(8080);
      expect(parseConfig({}, { env: process.env }).http.port).toBe(1234);
    } finally {
      vi.unstubAllEnvs();
    }
  });
});
