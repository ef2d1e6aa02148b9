/** Leveled output of a worker: `--log-level` (or `--quiet`) picks how much of it reaches the console. */
export const LOG_LEVELS = ['error', 'warn', 'info', 'debug'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** The error a worker fails with is always printed (on stderr, by the worker's entry); `error` shows only it. */
export interface Logger {
  warn(line: string): void;
  info(line: string): void;
  debug(line: string): void;
}

/** Warnings go to stderr, the rest to stdout (so `2>/dev/null` keeps progress, `>/dev/null` keeps trouble). */
export function createLogger(level: LogLevel, out: (line: string) => void = (l) => console.log(l), err: (line: string) => void = (l) => console.error(l)): Logger {
  const at = LOG_LEVELS.indexOf(level);
  const gate = (lvl: LogLevel, sink: (line: string) => void) => (LOG_LEVELS.indexOf(lvl) <= at ? sink : () => undefined);
  return { warn: gate('warn', err), info: gate('info', out), debug: gate('debug', out) };
}

/** `--quiet` wins over a `--log-level` above warn. */
export function effectiveLevel(level: LogLevel, quiet = false): LogLevel {
  return quiet && LOG_LEVELS.indexOf(level) > LOG_LEVELS.indexOf('warn') ? 'warn' : level;
}
