/**
 * @deprecated The old home of `startMailroom` and its types, kept for the tests and benchmarks
 * that import it: `startMailroom` is in `src/mailroom/start-mailroom.ts`, the types in
 * `src/core/mailroom-types.ts`. The one module in `src/runtime/` allowed to import upwards
 * (see `.dependency-cruiser.cjs`); delete it once nothing imports this path.
 */
export { startMailroom } from '../mailroom/start-mailroom.ts';
export type { Mailroom, MailroomEvents, MailroomOptions, MailroomStats, RequestOptions } from '../core/mailroom-types.ts';
