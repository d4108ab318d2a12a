/**
 * Ownership of the embedded nats-server's store directory: a lock file naming the owning
 * process, so a second runtime on the same store refuses instead of taking the first one's
 * server for an orphan. Node has no `flock`; the file is made complete, then hard-linked into
 * place (atomic, fails if it exists), and a lock whose owner is gone is stale and replaced.
 * @internal
 */
import { readFileSync } from 'node:fs';
import { link, readFile, rm, unlink, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { AlreadyRunningError, NatsServerError } from '../errors.ts';

/** The lock file's name inside the store directory. */
export const STORE_LOCK_FILE = 'mailroom.lock';

/** What the lock file holds. */
export interface StoreLockOwner {
  readonly pid: number;
  /** The owner's start time in clock ticks since boot (Linux `/proc/<pid>/stat`), to tell a reused pid. */
  readonly startTime?: string;
  readonly host: string;
  readonly since: string;
  readonly token: string;
}

/** A held store lock. `release()` is idempotent and removes only this holder's lock. */
export interface StoreLock {
  readonly file: string;
  readonly owner: StoreLockOwner;
  release(): Promise<void>;
}

/** The start time of a process (field 22 of `/proc/<pid>/stat`), or undefined where unreadable. */
function startTimeOf(pid: number | 'self'): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch (_) {
    return undefined;
  }
}

/** True while the owner lives: `kill(pid, 0)` succeeds or says EPERM, and the pid was not reused since. */
export function ownerAlive(owner: StoreLockOwner): boolean {
  if (owner.host !== hostname()) return true; // A store shared with another machine: its owner cannot be checked from here.
  try {
    process.kill(owner.pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  const start = startTimeOf(owner.pid);
  return owner.startTime === undefined || start === undefined || start === owner.startTime;
}

function parseOwner(text: string): StoreLockOwner | undefined {
  try {
    const owner = JSON.parse(text) as Partial<StoreLockOwner> | null;
    return owner !== null && typeof owner === 'object' && Number.isInteger(owner.pid) && typeof owner.host === 'string' && typeof owner.token === 'string' ? (owner as StoreLockOwner) : undefined;
  } catch (_) {
    return undefined;
  }
}

/**
 * Takes the lock on `storeDir` for this process. Throws `AlreadyRunningError` (with the
 * owner's pid) while a live owner holds it; a lock left by a dead owner is replaced.
 */
export async function acquireStoreLock(storeDir: string): Promise<StoreLock> {
  const file = join(storeDir, STORE_LOCK_FILE);
  const startTime = startTimeOf('self');
  const owner: StoreLockOwner = { pid: process.pid, ...(startTime ? { startTime } : {}), host: hostname(), since: new Date().toISOString(), token: randomUUID() };
  const text = JSON.stringify(owner);
  const draft = `${file}.${process.pid}.${owner.token}`;
  await writeFile(draft, text);
  try {
    for (let attempt = 0; attempt < 5; attempt++) {
      try {
        await link(draft, file);
        return { file, owner, release: releaser(file, owner.token) };
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw new NatsServerError(`cannot create the store lock ${file}: ${(error as Error).message}`, undefined, { cause: error });
      }
      const found = await readFile(file, 'utf8').catch(() => undefined);
      if (found === undefined) continue; // Released meanwhile: try again.
      const holder = parseOwner(found);
      if (holder && ownerAlive(holder)) throw new AlreadyRunningError(holder.pid, storeDir, file);
      // Stale (its owner died): remove it, unless another process replaced it meanwhile.
      if ((await readFile(file, 'utf8').catch(() => undefined)) === found) await unlink(file).catch(() => undefined);
    }
    throw new NatsServerError(`cannot take the store lock ${file}: it keeps changing`, 'Another runtime is starting on the same store; start one at a time.');
  } finally {
    await rm(draft, { force: true });
  }
}

function releaser(file: string, token: string): () => Promise<void> {
  let released: Promise<void> | undefined;
  return () =>
    (released ??= (async () => {
      const found = parseOwner(await readFile(file, 'utf8').catch(() => ''));
      if (found?.token === token) await unlink(file).catch(() => undefined);
    })());
}
