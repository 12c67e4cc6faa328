import { pino, type Logger } from 'pino';

export type { Logger };

/** Log levels accepted by LOG_LEVEL. */
export const LOG_LEVELS = [
  'fatal',
  'error',
  'warn',
  'info',
  'debug',
  'trace',
  'silent',
] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** A JSON logger with `service` bound on every line, to stdout unless `destination` is given. */
export function createLogger(options: {
  service: string;
  level?: LogLevel;
  /** Receives each line instead of stdout (tests read what was logged). */
  destination?: { write(line: string): void };
}): Logger {
  const settings = {
    level: options.level ?? 'info',
    base: { service: options.service, pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  return options.destination === undefined
    ? pino(settings)
    : pino(settings, options.destination);
}
