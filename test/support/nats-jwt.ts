/**
 * Just enough NATS JWTs (operator → account → user, decentralized auth) to start a
 * nats-server in operator mode with a memory resolver and to write a `.creds` file, for
 * tests of `nats.auth.creds`. Signed with NKeys (`ed25519-nkey`), as `nsc` would.
 */
import { createHash } from 'node:crypto';
import { nkeys } from '@nats-io/transport-node';

type KeyPair = ReturnType<typeof nkeys.createUser>;

const b64url = (data: Uint8Array | string) => Buffer.from(data).toString('base64url');
const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

function sign(issuer: KeyPair, subject: string, name: string, nats: Record<string, unknown>): string {
  const header = b64url(JSON.stringify({ typ: 'JWT', alg: 'ed25519-nkey' }));
  const claims: Record<string, unknown> = { iat: Math.floor(Date.now() / 1000), iss: issuer.getPublicKey(), name, sub: subject, nats: { ...nats, version: 2 } };
  claims.jti = createHash('sha256').update(JSON.stringify(claims)).digest('base64url');
  const body = `${header}.${b64url(JSON.stringify(claims))}`;
  return `${body}.${b64url(issuer.sign(new TextEncoder().encode(body)))}`;
}

const UNLIMITED = { subs: -1, data: -1, payload: -1 };

export interface OperatorSetup {
  /** The nats-server config (operator, memory resolver with the account preloaded). */
  readonly serverConfig: string;
  /** A `.creds` file's text for a new user of the account. */
  userCreds(name: string): string;
}

export function operatorSetup(): OperatorSetup {
  const operator = nkeys.createOperator();
  const account = nkeys.createAccount();
  const operatorJwt = sign(operator, operator.getPublicKey(), 'test-operator', { type: 'operator' });
  const accountJwt = sign(operator, account.getPublicKey(), 'test-account', {
    type: 'account',
    limits: { ...UNLIMITED, imports: -1, exports: -1, wildcards: true, conn: -1, leaf: -1, mem_storage: -1, disk_storage: -1, streams: -1, consumer: -1 },
  });
  return {
    serverConfig: `operator: ${operatorJwt}\nresolver: MEMORY\nresolver_preload: {\n  ${account.getPublicKey()}: ${accountJwt}\n}\n`,
    userCreds(name) {
      const user = nkeys.createUser();
      const jwt = sign(account, user.getPublicKey(), name, { type: 'user', pub: {}, sub: {}, ...UNLIMITED });
      return `-----BEGIN NATS USER JWT-----\n${jwt}\n------END NATS USER JWT------\n\n-----BEGIN USER NKEY SEED-----\n${text(user.getSeed())}\n------END USER NKEY SEED------\n`;
    },
  };
}
