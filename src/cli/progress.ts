/** A progress display for a long operation: a bar on a terminal, nothing otherwise. */
export interface Progress {
  tick(detail?: string): void;
  /** Adds to the total (a list read page by page). */
  grow(by: number): void;
  stop(): void;
}

const silent: Progress = { tick: () => undefined, grow: () => undefined, stop: () => undefined };

/**
 * A `cli-progress` bar on standard error, only when standard error is a terminal and the
 * output is for people (not `--json`): piped output and scripts see only the result.
 */
export async function startProgress(label: string, total: number, flags: { json?: boolean } = {}): Promise<Progress> {
  if (flags.json || !process.stderr.isTTY) return silent;
  const { SingleBar, Presets } = await import('cli-progress');
  const bar = new SingleBar(
    { format: `${label} [{bar}] {value}/{total} {detail}`, stream: process.stderr, hideCursor: true, clearOnComplete: false, etaBuffer: 20 },
    Presets.shades_classic,
  );
  bar.start(total, 0, { detail: '' });
  let value = 0;
  let size = total;
  return {
    tick: (detail = '') => bar.update(++value, { detail }),
    grow: (by) => bar.setTotal((size += by)),
    stop: () => bar.stop(),
  };
}
