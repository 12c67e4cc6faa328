/**
 * Header names on command and query requests. Command metadata travels in
 * headers so that the bytes a gRPC client sent are forwarded untouched.
 */
export const Header = {
  commandId: 'Cim-Command-Id',
  correlationId: 'Cim-Correlation-Id',
  causationId: 'Cim-Causation-Id',
  actor: 'Cim-Actor',
  expectedVersion: 'Cim-Expected-Version',
  traceparent: 'traceparent',
  tracestate: 'tracestate',
  /** NATS micro-service convention: present on every error reply. */
  errorCode: 'Nats-Service-Error-Code',
  errorMessage: 'Nats-Service-Error',
} as const;
