import { getPriority, setPriority } from 'node:os';
import { isMainThread } from 'node:worker_threads';
import { ConfigError } from '../errors.ts';

/** Lowers this thread's scheduling priority (Linux: per thread, `setpriority` on the main thread's id is the process id). */
export function lowerThreadPriority(increment: number, onError: (error: unknown, context: string) => void): void {
  if (!Number.isInteger(increment) || increment < 1 || increment > 19) throw new ConfigError(`processingNice is a nice increment from 1 to 19, not ${increment}`);
  try {
    if (!isMainThread) throw new Error('only the main thread can be reniced by its process id');
    setPriority(process.pid, Math.min(19, getPriority(process.pid) + increment));
  } catch (error) {
    onError(error, 'lowering the priority of envelope processing (processingNice)');
  }
}
