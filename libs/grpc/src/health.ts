import { create } from '@bufbuild/protobuf';
import { DomainError, ErrorCode } from '@cim/kernel';
import {
  type Health,
  HealthCheckResponseSchema,
  HealthCheckResponse_ServingStatus as ServingStatus,
  type HealthCheckResponse,
} from '@cim/proto/grpc/health/v1/health_pb';
import { Channel } from './channel.js';
import type { ServiceHandlers } from './server.js';

export { ServingStatus };

/** The state behind a grpc.health.v1.Health service. */
export interface HealthService {
  /** Handlers to pass to `addService(server, Health, health.handlers)`. */
  readonly handlers: ServiceHandlers<typeof Health>;
  /** Sets the status of a service name ("" is the whole server); every Watch on it sees the change. */
  setStatus(service: string, status: ServingStatus): void;
  /** The status of a service name, or undefined when it is unknown. */
  getStatus(service: string): ServingStatus | undefined;
  /** Ends every open Watch with OK and refuses new ones, so a graceful shutdown need not wait for them. */
  close(): void;
}

/**
 * Implements grpc.health.v1.Health (Check, List, Watch) over a table of
 * statuses. Check of an unknown name answers NOT_FOUND; Watch sends the
 * current status (SERVICE_UNKNOWN for an unknown name) and then each change.
 */
export function healthService(
  statuses: Readonly<Record<string, ServingStatus>> = {},
): HealthService {
  const table = new Map<string, ServingStatus>(Object.entries(statuses));
  const watchers = new Set<{
    readonly service: string;
    readonly changes: Channel<ServingStatus>;
  }>();
  let closed = false;

  const handlers: ServiceHandlers<typeof Health> = {
    check({ service }) {
      const status = table.get(service);
      if (status === undefined)
        throw new DomainError(
          ErrorCode.NOT_FOUND,
          `unknown service ${service}`,
        );
      return { status };
    },
    list() {
      const out: Record<string, HealthCheckResponse> = {};
      for (const [service, status] of table)
        out[service] = create(HealthCheckResponseSchema, { status });
      return { statuses: out };
    },
    async *watch({ service }, { signal }) {
      if (closed) return;
      const watcher = { service, changes: new Channel<ServingStatus>(signal) };
      watchers.add(watcher);
      try {
        let last = table.get(service) ?? ServingStatus.SERVICE_UNKNOWN;
        yield { status: last };
        for await (const status of watcher.changes) {
          if (status === last) continue;
          last = status;
          yield { status };
        }
      } finally {
        watchers.delete(watcher);
      }
    },
  };

  return {
    handlers,
    setStatus(service, status) {
      table.set(service, status);
      for (const watcher of watchers)
        if (watcher.service === service) watcher.changes.push(status);
    },
    getStatus: (service) => table.get(service),
    close() {
      closed = true;
      for (const watcher of watchers) watcher.changes.close();
    },
  };
}
