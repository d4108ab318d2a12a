/**
 * The runtime's resources (nats-server child, connection, loops, HTTP server) acquired in
 * one scope: `close()` releases them in reverse order of acquisition, one at a time, every
 * one of them even if another fails, and is idempotent. A failed start closes what it opened.
 * A resource whose acquisition finishes after `close()` began is released at once.
 *
 * (This was an Effect `Scope`; a stack of finalizers does the same without Effect's 61 MB
 * install and ~7 MB of resident memory. See bench/README.md.)
 * @internal
 */
export class ResourceScope {
  readonly #releases: (() => Promise<void>)[] = [];
  #closing: Promise<void> | undefined;

  /** Runs `acquire`; registers `release` to run when the scope closes. */
  async acquire<A>(acquire: () => Promise<A>, release: (resource: A) => Promise<void> | void): Promise<A> {
    const resource = await acquire();
    const run = async (): Promise<void> => {
      try {
        await release(resource);
      } catch {
        // A failed release must not keep the others from running.
      }
    };
    if (this.#closing) await run();
    else this.#releases.push(run);
    return resource;
  }

  close(): Promise<void> {
    return (this.#closing ??= (async () => {
      for (let release = this.#releases.pop(); release; release = this.#releases.pop()) await release();
    })());
  }
}
