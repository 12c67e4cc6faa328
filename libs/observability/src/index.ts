export { createLogger, LOG_LEVELS } from './logger.js';
export type { LogLevel, Logger } from './logger.js';
export { createMetrics } from './metrics.js';
export type { Metrics } from './metrics.js';
export { startHttpEndpoint } from './http-server.js';
export type { HttpEndpoint, Readiness } from './http-server.js';
export { startTracing } from './tracing.js';
export type { TraceExporter, Tracing } from './tracing.js';
