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

/** A JSON logger to stdout with `service` bound on every line. */
export function createLogger(options: {
  service: string;
  level?: LogLevel;
}): Logger {
  return pino({
    level: options.level ?? 'info',
    base: { service: options.service, pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
  });
}
