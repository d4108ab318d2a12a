/** The error classes now live in `src/errors/` (one file per area, each class with its contract); this path re-exports them. */
export * from './errors/index.ts';
