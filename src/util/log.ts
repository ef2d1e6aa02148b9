/** Leveled output of a worker: `--log-level` (or `--quiet`) picks how much of it reaches the console. */
export const LOG_LEVELS = ['error', 'warn', 'info', 'debug'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface Logger {
  error(line: string): void;
  warn(line: string): void;
  info(line: string): void;
  debug(line: string): void;
  readonly level: LogLevel;
}

/** Errors and warnings go to stderr, the rest to stdout (so `2>/dev/null` keeps progress, `>/dev/null` keeps trouble). */
export function createLogger(level: LogLevel, out: (line: string) => void = (l) => console.log(l), err: (line: string) => void = (l) => console.error(l)): Logger {
  const at = LOG_LEVELS.indexOf(level);
  const gate = (lvl: LogLevel, sink: (line: string) => void) => (LOG_LEVELS.indexOf(lvl) <= at ? sink : () => undefined);
  return { level, error: gate('error', err), warn: gate('warn', err), info: gate('info', out), debug: gate('debug', out) };
}

/** `--quiet` wins over a `--log-level` above warn. */
export function effectiveLevel(level: LogLevel, quiet: boolean): LogLevel {
  return quiet && LOG_LEVELS.indexOf(level) > LOG_LEVELS.indexOf('warn') ? 'warn' : level;
}
