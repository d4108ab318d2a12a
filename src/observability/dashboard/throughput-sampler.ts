/** The counters the sampler reads: running totals since start (`undefined` when a source is not there, e.g. no HTTP inbox). */
export interface ThroughputTotals {
  readonly accepted?: number;
  readonly replied: number;
  readonly discarded: number;
  readonly deadLettered: number;
}

export const THROUGHPUT_SERIES = ['accepted', 'replied', 'discarded', 'deadLettered'] as const;
export type ThroughputSeriesName = (typeof THROUGHPUT_SERIES)[number];

/** Envelopes per sample (one second by default: a rate per second), oldest first; `null` where a counter was not readable. */
export interface ThroughputSeries {
  /** Seconds between samples. */
  readonly step: number;
  /** Each sample's time, epoch seconds. */
  readonly times: readonly number[];
  readonly series: Readonly<Record<ThroughputSeriesName, readonly (number | null)[]>>;
}

export interface ThroughputSamplerOptions {
  /** Reads the running totals; called once per interval, never per envelope. */
  readonly read: () => ThroughputTotals | Promise<ThroughputTotals>;
  /** How many samples are kept (default 600: ten minutes at one a second). */
  readonly capacity?: number;
  /** Default 1000 ms. */
  readonly intervalMs?: number;
  readonly now?: () => number;
  readonly onError?: (error: unknown) => void;
}

/**
 * Throughput over the last minutes at one-second resolution, for the dashboard's charts. It
 * reads counters the runtime keeps anyway (the inbox's accepted count, the envelope tracker's
 * final-state totals) once a second and keeps the differences in a ring buffer: nothing is
 * added to an envelope's path.
 */
export class ThroughputSampler {
  private readonly capacity: number;
  private readonly intervalMs: number;
  private readonly now: () => number;
  private readonly times: Float64Array;
  private readonly rates: Record<ThroughputSeriesName, Float64Array>;
  private size = 0;
  private next = 0;
  private last: { at: number; totals: ThroughputTotals } | undefined;
  private timer: NodeJS.Timeout | undefined;
  private sampling = false;

  constructor(private readonly options: ThroughputSamplerOptions) {
    this.capacity = Math.max(2, options.capacity ?? 600);
    this.intervalMs = options.intervalMs ?? 1000;
    this.now = options.now ?? Date.now;
    this.times = new Float64Array(this.capacity);
    this.rates = Object.fromEntries(THROUGHPUT_SERIES.map((name) => [name, new Float64Array(this.capacity)])) as Record<ThroughputSeriesName, Float64Array>;
  }

  /** Samples once a second until {@link stop}. Idempotent. */
  start(): this {
    if (this.timer) return this;
    void this.sample();
    this.timer = setInterval(() => void this.sample(), this.intervalMs);
    this.timer.unref();
    return this;
  }

  /** Idempotent. */
  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Reads the totals and records what they grew by since the previous reading (the first reading only sets the base). */
  async sample(): Promise<void> {
    if (this.sampling) return;
    this.sampling = true;
    try {
      const totals = await this.options.read();
      const at = this.now();
      const previous = this.last;
      this.last = { at, totals };
      if (!previous) return;
      const i = this.next;
      this.times[i] = Math.round(at / 1000);
      for (const name of THROUGHPUT_SERIES) {
        const now = totals[name];
        const before = previous.totals[name];
        // A counter that went backwards was reset (a new runtime): count from zero. Counts, not
        // divided by the time measured: the samples add up to the counters' totals exactly.
        this.rates[name][i] = now === undefined || before === undefined ? Number.NaN : now >= before ? now - before : now;
      }
      this.next = (i + 1) % this.capacity;
      this.size = Math.min(this.capacity, this.size + 1);
    } catch (error) {
      this.options.onError?.(error);
    } finally {
      this.sampling = false;
    }
  }

  /** The samples of the last `seconds` (default all kept), oldest first. */
  series(seconds?: number): ThroughputSeries {
    const count = Math.min(this.size, seconds === undefined ? this.size : Math.max(0, Math.floor(seconds / (this.intervalMs / 1000))));
    const start = (this.next - count + this.capacity) % this.capacity;
    const index = (k: number) => (start + k) % this.capacity;
    const round = (n: number) => (Number.isNaN(n) ? null : n);
    return {
      step: this.intervalMs / 1000,
      times: Array.from({ length: count }, (_, k) => this.times[index(k)]!),
      series: Object.fromEntries(THROUGHPUT_SERIES.map((name) => [name, Array.from({ length: count }, (_, k) => round(this.rates[name][index(k)]!))])) as unknown as ThroughputSeries['series'],
    };
  }
}
