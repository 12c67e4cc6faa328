/** Where spans go: nowhere (default) or an OTLP/HTTP collector. */
export type TraceExporter = 'none' | 'otlp';

/** A started tracing SDK; `shutdown()` flushes it. */
export interface Tracing {
  shutdown(): Promise<void>;
}

/**
 * Starts the OpenTelemetry Node SDK when an exporter is chosen. The SDK is
 * loaded only then, so a process with tracing off pays nothing for it. The
 * OTLP endpoint comes from the standard OTEL_EXPORTER_OTLP_ENDPOINT variable.
 */
export async function startTracing(options: {
  service: string;
  exporter: TraceExporter;
}): Promise<Tracing> {
  if (options.exporter === 'none') return { shutdown: () => Promise.resolve() };
  const { NodeSDK } = await import('@opentelemetry/sdk-node');
  const { OTLPTraceExporter } =
    await import('@opentelemetry/exporter-trace-otlp-http');
  const traceExporter = new OTLPTraceExporter();
  const sdk = new NodeSDK({ serviceName: options.service, traceExporter });
  sdk.start();
  return { shutdown: () => sdk.shutdown() };
}
