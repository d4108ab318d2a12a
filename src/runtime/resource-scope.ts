// The modules themselves, not the package's index: the index loads all of Effect (~39 MB of
// resident memory, 13 MB of heap); these three cost ~14 MB.
import * as Effect from 'effect/Effect';
import * as Exit from 'effect/Exit';
import * as Scope from 'effect/Scope';

/**
 * The runtime's resources (nats-server child, connection, loops, HTTP server) acquired in
 * one Effect `Scope`: `close()` releases them in reverse order of acquisition, every one
 * of them even if another fails, and is idempotent. A failed start closes what it opened.
 * @internal
 */
export class ResourceScope {
  readonly #scope = Effect.runSync(Scope.make('sequential'));
  #closing: Promise<void> | undefined;

  /** Runs `acquire`; registers `release` to run when the scope closes. */
  acquire<A>(acquire: () => Promise<A>, release: (resource: A) => Promise<void> | void): Promise<A> {
    return Effect.runPromise(
      Scope.provide(this.#scope)(
        Effect.acquireRelease(
          Effect.tryPromise({ try: acquire, catch: (error) => error }),
          (resource) => Effect.promise(async () => release(resource)).pipe(Effect.catchCause(() => Effect.void)),
        ),
      ),
    );
  }

  close(): Promise<void> {
    return (this.#closing ??= Effect.runPromise(Scope.close(this.#scope, Exit.void)));
  }
}
