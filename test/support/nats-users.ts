/**
 * A nats-server config file with users, for tests that need a runtime whose acks (or other
 * publishes) never land: a user denied `$JS.ACK.<stream>.>` takes messages but cannot ack them,
 * which creates "the reply went out, the inbox message was never acked" deterministically.
 *
 * nats.js ignores credentials in a URL; `connectNats` takes them from `nats://user:pass@host:port`.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface TestUser {
  readonly user: string;
  readonly password: string;
  /** Subjects this user may not publish to (everything else is allowed). */
  readonly denyPublish?: readonly string[];
}

/** Writes `users.conf` into `dir` and returns the nats-server arguments that load it. */
export async function natsUsersConfig(dir: string, users: readonly TestUser[]): Promise<string[]> {
  const path = join(dir, 'users.conf');
  const entry = (u: TestUser) =>
    u.denyPublish?.length
      ? `{ user: ${JSON.stringify(u.user)}, password: ${JSON.stringify(u.password)}, permissions: { publish: { allow: [">"], deny: ${JSON.stringify(u.denyPublish)} }, subscribe: { allow: [">"] } } }`
      : `{ user: ${JSON.stringify(u.user)}, password: ${JSON.stringify(u.password)} }`;
  await writeFile(path, `authorization {\n  users = [\n    ${users.map(entry).join('\n    ')}\n  ]\n}\n`);
  return ['-c', path];
}

/** `nats://user:password@host:port` for a server URL `nats://host:port`. */
export function urlAs(url: string, user: TestUser): string {
  return url.replace('://', `://${encodeURIComponent(user.user)}:${encodeURIComponent(user.password)}@`);
}
