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
  /**
   * On a query: the stream sequence its answer must reflect, as a command's
   * result gives it (`stream_sequence`). Read-your-writes for queries that
   * span aggregates, where `min_version` names none.
   */
  minPosition: 'Cim-Min-Position',
  /**
   * Milliseconds the caller waits for the answer, counted from when the
   * request is received (relative, so that clocks need not agree): a command
   * whose turn comes after that is answered UNAVAILABLE and not applied,
   * instead of being applied for a caller that has given up.
   */
  timeout: 'Cim-Timeout-Ms',
  traceparent: 'traceparent',
  tracestate: 'tracestate',
  /** NATS micro-service convention: present on every error reply. */
  errorCode: 'Nats-Service-Error-Code',
  errorMessage: 'Nats-Service-Error',
} as const;
