import { pino, type DestinationStream, type Level, type Logger } from 'pino';
import pinoPretty from 'pino-pretty';
import { currentTraceId } from '../runtime/trace-context.ts';

export type LogFormat = 'json' | 'pretty';
export const logFormats: readonly LogFormat[] = ['json', 'pretty'];

export interface LoggerOptions {
  /** `json`: one JSON object per line (for log shippers); `pretty`: readable lines for a terminal. */
  readonly format?: LogFormat;
  /** Default `info`. */
  readonly level?: Level | 'silent';
  /** Default: standard output. */
  readonly destination?: DestinationStream;
  /** Colours in pretty mode (default: when the destination is a TTY). */
  readonly colorize?: boolean;
}

/** `pretty` when standard output is a terminal, else `json`. */
export const defaultLogFormat = (stream: { isTTY?: boolean } = process.stdout): LogFormat => (stream.isTTY ? 'pretty' : 'json');

/** Fields the pretty mode leaves out because the envelope line's message already says them. */
const SAID_IN_MESSAGE = ['pid', 'hostname', 'from', 'to', 'subject', 'correlation', 'state', 'previous', 'attempt', 'reason', 'detail', 'trace_id', 'local', 'status', 'access', 'method', 'route', 'durationMs', 'kind', 'feedbackFor'];

/** `trace_id` on every line written while an envelope or a delivery that came with a `traceparent` is handled (see `runWithTrace`). */
const traceMixin = (): Record<string, string> => {
  const traceId = currentTraceId();
  return traceId ? { trace_id: traceId } : {};
};

/**
 * The Mailroom logger (pino). JSON lines by default; `pretty` renders the same records as
 * short coloured lines, synchronously, so they interleave correctly with other output.
 *
 * @example
 * ```ts
 * const logger = createLogger({ format: defaultLogFormat() });
 * logEnvelopes(events, logger);
 * ```
 */
export function createLogger(options: LoggerOptions = {}): Logger {
  const level = options.level ?? 'info';
  const base = { name: 'mailroom' };
  if ((options.format ?? 'json') === 'json') {
    return pino({ level, base, mixin: traceMixin, timestamp: pino.stdTimeFunctions.isoTime }, options.destination ?? pino.destination({ fd: 1, sync: true }));
  }
  const colorize = options.colorize ?? (options.destination ? false : Boolean(process.stdout.isTTY));
  // prettyFactory formats one record synchronously: no worker thread, no stream plumbing.
  const prettify = pinoPretty.prettyFactory({ colorize, translateTime: 'SYS:HH:MM:ss.l', ignore: ['name', ...SAID_IN_MESSAGE].join(','), singleLine: true });
  const destination = options.destination ?? pino.destination({ fd: 1, sync: true });
  return pino({ level, base, mixin: traceMixin }, { write: (line: string) => void destination.write(prettify(line)) });
}
