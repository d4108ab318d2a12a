/**
 * `connectNats` with credentials and TLS against real nats-servers that require them: the
 * right secrets connect, wrong ones fail fast with a TransportError that names the way in
 * (never the secret).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nkeys } from '@nats-io/transport-node';
import { TransportError } from '../../src/errors.ts';
import { connectNats, type ConnectNatsOptions } from '../../src/transport/connect.ts';
import { startNatsServer, type NatsServerHandle } from '../support/nats-server.ts';
import { operatorSetup } from '../support/nats-jwt.ts';

const hasOpenssl = (() => {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch (_) {
    return false;
  }
})();

let dir: string;
const servers: NatsServerHandle[] = [];
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mailroom-nats-auth-'));
});
afterAll(async () => {
  await Promise.all(servers.map((s) => s.stop()));
  await rm(dir, { recursive: true, force: true });
});

async function serverWith(name: string, conf: string): Promise<NatsServerHandle> {
  const path = join(dir, `${name}.conf`);
  await writeFile(path, conf);
  const server = await startNatsServer({ jetstream: false, args: ['-c', path] });
  servers.push(server);
  return server;
}

async function connects(options: ConnectNatsOptions): Promise<true> {
  const nc = await connectNats({ ...options, maxReconnectAttempts: 0 });
  try {
    await nc.flush();
    return true;
  } finally {
    await nc.close();
  }
}

/** The error of a connect that must fail; its message never holds `secrets`. */
async function refused(options: ConnectNatsOptions, secrets: readonly string[] = []): Promise<string> {
  const error = await connectNats({ ...options, maxReconnectAttempts: 0 }).then(
    async (nc) => {
      await nc.close();
      throw new Error('expected the connect to fail');
    },
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(TransportError);
  const text = `${(error as Error).message} ${String((error as Error).cause)}`;
  for (const secret of secrets) expect(text).not.toContain(secret);
  return (error as Error).message;
}

describe('connectNats with credentials', () => {
  it('user and password', async () => {
    const server = await serverWith('users', 'authorization { user: app, password: "right-password-1" }\n');
    expect(await connects({ url: server.url, auth: { user: 'app', password: 'right-password-1' } })).toBe(true);
    const message = await refused({ url: server.url, auth: { user: 'app', password: 'wrong-password-2' } }, ['wrong-password-2', 'right-password-1']);
    expect(message).toMatch(new RegExp(`cannot connect to NATS at ${server.url} as user app: .*authorization`, 'i'));
    expect(await refused({ url: server.url })).toMatch(/authorization/i);
  });

  it('token', async () => {
    const server = await serverWith('token', 'authorization { token: "s3cret-token-right" }\n');
    expect(await connects({ url: server.url, auth: { token: 's3cret-token-right' } })).toBe(true);
    expect(await refused({ url: server.url, auth: { token: 's3cret-token-wrong' } }, ['s3cret-token-wrong', 's3cret-token-right'])).toMatch(/as a token: .*authorization/i);
  });

  it('an NKey seed file', async () => {
    const user = nkeys.createUser();
    const stranger = nkeys.createUser();
    const seed = new TextDecoder().decode(user.getSeed());
    const strangerSeed = new TextDecoder().decode(stranger.getSeed());
    await writeFile(join(dir, 'user.nk'), `${seed}\n`);
    await writeFile(join(dir, 'stranger.nk'), strangerSeed);
    const server = await serverWith('nkey', `authorization { users = [ { nkey: ${user.getPublicKey()} } ] }\n`);
    expect(await connects({ url: server.url, auth: { nkey: join(dir, 'user.nk') } })).toBe(true);
    const message = await refused({ url: server.url, auth: { nkey: join(dir, 'stranger.nk') } }, [strangerSeed, seed]);
    expect(message).toContain(`as the NKey seed in ${join(dir, 'stranger.nk')}`);
    expect(await refused({ url: server.url, auth: { nkey: join(dir, 'missing.nk') } })).toBe(`cannot read the NATS NKey seed file ${join(dir, 'missing.nk')} (ENOENT)`);
  });

  it('a .creds file (operator mode)', async () => {
    const setup = operatorSetup();
    const server = await serverWith('operator', setup.serverConfig);
    await writeFile(join(dir, 'app.creds'), setup.userCreds('app'));
    expect(await connects({ url: server.url, auth: { creds: join(dir, 'app.creds') } })).toBe(true);
    // A user of another operator's account: a well-formed file the server does not trust.
    await writeFile(join(dir, 'other.creds'), operatorSetup().userCreds('other'));
    const message = await refused({ url: server.url, auth: { creds: join(dir, 'other.creds') } });
    expect(message).toMatch(new RegExp(`as the credentials file ${join(dir, 'other.creds')}: .*authorization`, 'i'));
  });

  it('a missing creds file is named, not a hang', async () => {
    const server = await serverWith('open', 'max_payload: 1MB\n');
    expect(await refused({ url: server.url, auth: { creds: join(dir, 'none.creds') } })).toBe(`cannot read the NATS credentials (creds) file ${join(dir, 'none.creds')} (ENOENT)`);
  });
});

describe.skipIf(!hasOpenssl)('connectNats over TLS', () => {
  let server: NatsServerHandle;
  const pem = (name: string) => join(dir, name);

  beforeAll(async () => {
    const ssl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'ignore', cwd: dir });
    ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca-key.pem', '-out', 'ca.pem', '-days', '1', '-subj', '/CN=mailroom test CA');
    for (const [name, san] of [['server', 'subjectAltName=IP:127.0.0.1,DNS:localhost'], ['client', 'subjectAltName=DNS:client']] as const) {
      ssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}-key.pem`, '-out', `${name}.csr`, '-subj', `/CN=${name}`);
      await writeFile(join(dir, `${name}.ext`), `${san}\n`);
      ssl('x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca-key.pem', '-CAcreateserial', '-out', `${name}.pem`, '-days', '1', '-extfile', `${name}.ext`);
    }
    const tls = `tls { cert_file: "${pem('server.pem')}", key_file: "${pem('server-key.pem')}", ca_file: "${pem('ca.pem')}", verify: true }\n`;
    server = await serverWith('tls', tls);
  }, 60_000);

  it('connects with the CA and a client certificate', async () => {
    expect(await connects({ url: server.url, tls: { ca: pem('ca.pem'), cert: pem('client.pem'), key: pem('client-key.pem') } })).toBe(true);
  });

  it('fails clearly without a client certificate, or without trusting the CA', async () => {
    // The server closes without a word after the handshake: the connect times out, and says what to check.
    expect(await refused({ url: server.url, tls: { ca: pem('ca.pem') }, connectTimeoutMs: 2_000 })).toMatch(/over TLS: timeout \(if the server verifies client certificates, set nats.tls.cert and key\)$/);
    expect(await refused({ url: server.url, tls: { cert: pem('client.pem'), key: pem('client-key.pem') } })).toMatch(/over TLS: .*(certificate|self.signed)/i);
    expect(await refused({ url: server.url })).toMatch(/certificate/);
  });
});
