/**
 * Runs functions one at a time per key, in call order; different keys run concurrently. The
 * engine queues every step of one workflow here, so this process never races itself for a
 * revision (other processes are kept apart by the revision check).
 */
export class KeyedQueue {
  readonly #tails = new Map<string, Promise<unknown>>();

  /** Runs `fn` after every earlier function of `key` has settled; a failure does not stop the queue. */
  run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.#tails.get(key) ?? Promise.resolve();
    const run = previous.then(fn, fn);
    const tail = run.catch(() => undefined);
    this.#tails.set(key, tail);
    void tail.then(() => {
      if (this.#tails.get(key) === tail) this.#tails.delete(key);
    });
    return run;
  }
}
