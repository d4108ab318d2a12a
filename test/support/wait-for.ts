/**
 * Polls until `probe` returns a value other than `undefined`/`false` (or stops
 * throwing), or the deadline passes: the test then fails with the last reason.
 */
export async function waitFor<T>(probe: () => Promise<T | undefined | false> | T | undefined | false, options: { timeoutMs?: number; intervalMs?: number; what?: string } = {}): Promise<T> {
  const deadline = Date.now() + (options.timeoutMs ?? 10_000);
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value;
      last = undefined;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) {
      const why = last instanceof Error ? `: ${last.message}` : '';
      throw new Error(`timed out waiting for ${options.what ?? 'condition'}${why}`, { cause: last });
    }
    await new Promise((r) => setTimeout(r, options.intervalMs ?? 50));
  }
}
