/** `EnvelopeDraftError` lives in `src/errors/envelope-errors.ts`; this path re-exports it. */
export { EnvelopeDraftError } from '../errors/envelope-errors.ts';
