import { Registry, collectDefaultMetrics } from 'prom-client';
import { BufferedCounter, BufferedHistogram } from './buffered-metrics.js';

/** Latency buckets in seconds, from 50 µs to 5 s. */
const LATENCY_BUCKETS = [
  0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
  0.1, 0.25, 0.5, 1, 2.5, 5,
];

/** The standard metrics of a CIM process, in its own registry (never the global one). */
export interface Metrics {
  readonly registry: Registry;
  /** Commands handled, by command name and outcome (`accepted`, `rejected`, error code). */
  readonly commands: BufferedCounter<'command' | 'outcome'>;
  readonly commandSeconds: BufferedHistogram<'command'>;
  /** Queries answered, by query name and outcome. */
  readonly queries: BufferedCounter<'query' | 'outcome'>;
  readonly querySeconds: BufferedHistogram<'query'>;
  /** Commits appended, by outcome (`ok`, `duplicate`, `conflict`, `error`). */
  readonly appends: BufferedCounter<'outcome'>;
  readonly appendSeconds: BufferedHistogram;
  /**
   * Refused or no-op commands checked for an earlier attempt, by outcome:
   * `covered` (memory rules one out), `found` and `none` (read the stream),
   * `over-bound` (not read: the per-second bound was reached), `unreadable`.
   */
  readonly retryChecks: BufferedCounter<'outcome'>;
}

/**
 * Creates the standard metrics plus Node's default process metrics, labelled
 * with the service name. Counters and histograms on the request path are
 * buffered (see buffered-metrics.ts): bind their labels once with
 * `labels(...)`, then each count or observation costs a few additions.
 */
export function createMetrics(service: string): Metrics {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  collectDefaultMetrics({ register: registry });
  const registers = [registry];
  return {
    registry,
    commands: new BufferedCounter({
      name: 'cim_commands_total',
      help: 'Commands handled, by command and outcome',
      labelNames: ['command', 'outcome'],
      registers,
    }),
    commandSeconds: new BufferedHistogram({
      name: 'cim_command_duration_seconds',
      help: 'Time from receiving a command to its reply',
      labelNames: ['command'],
      buckets: LATENCY_BUCKETS,
      registers,
    }),
    queries: new BufferedCounter({
      name: 'cim_queries_total',
      help: 'Queries answered, by query and outcome',
      labelNames: ['query', 'outcome'],
      registers,
    }),
    querySeconds: new BufferedHistogram({
      name: 'cim_query_duration_seconds',
      help: 'Time from receiving a query to its reply',
      labelNames: ['query'],
      buckets: LATENCY_BUCKETS,
      registers,
    }),
    appends: new BufferedCounter({
      name: 'cim_appends_total',
      help: 'Commits appended to JetStream, by outcome',
      labelNames: ['outcome'],
      registers,
    }),
    appendSeconds: new BufferedHistogram({
      name: 'cim_append_duration_seconds',
      help: 'Time from publishing a commit to its JetStream ack',
      buckets: LATENCY_BUCKETS,
      registers,
    }),
    retryChecks: new BufferedCounter({
      name: 'cim_retry_checks_total',
      help: 'Refused or no-op commands checked for an earlier stored attempt, by outcome',
      labelNames: ['outcome'],
      registers,
    }),
  };
}
