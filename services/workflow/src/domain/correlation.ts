import { isSubjectToken } from '@cim/kernel';

const PREFIX = 'wf';

/** The workflow step a cross-domain operation's correlation id points back to. */
export interface OperationTarget {
  readonly workflowId: string;
  readonly stepId: string;
  /** The id of the command that requested the operation. */
  readonly requestId: string;
}

/**
 * The correlation id a requested operation travels under:
 * `wf:<workflowId>:<stepId>:<requestId>`. Ids are subject tokens, which never
 * hold `:`, so the parts parse back unambiguously; a reaction that sees only
 * a foreign commit can thus tell which step waits for it.
 */
export function operationCorrelationId(target: OperationTarget): string {
  return `${PREFIX}:${target.workflowId}:${target.stepId}:${target.requestId}`;
}

/** The step a correlation id made by operationCorrelationId names; undefined for any other string. */
export function parseOperationCorrelationId(
  correlationId: string,
): OperationTarget | undefined {
  const parts = correlationId.split(':');
  if (parts.length !== 4 || parts[0] !== PREFIX) return undefined;
  const [, workflowId = '', stepId = '', requestId = ''] = parts;
  if (
    !isSubjectToken(workflowId) ||
    !isSubjectToken(stepId) ||
    !isSubjectToken(requestId)
  ) {
    return undefined;
  }
  return { workflowId, stepId, requestId };
}

const TRANSACTION_PREFIX = 'wftx';

/** The workflow transaction a correlation id points back to. */
export interface TransactionTarget {
  readonly workflowId: string;
  readonly transactionId: string;
}

/**
 * The correlation id a transaction's participants prepare under:
 * `wftx:<workflowId>:<transactionId>`. Its prefix differs from an
 * operation's, so a reaction tells a participant's vote from an operation's
 * result by the correlation id alone.
 */
export function transactionCorrelationId(target: TransactionTarget): string {
  return `${TRANSACTION_PREFIX}:${target.workflowId}:${target.transactionId}`;
}

/** The transaction a correlation id made by transactionCorrelationId names; undefined for any other string. */
export function parseTransactionCorrelationId(
  correlationId: string,
): TransactionTarget | undefined {
  const parts = correlationId.split(':');
  if (parts.length !== 3 || parts[0] !== TRANSACTION_PREFIX) return undefined;
  const [, workflowId = '', transactionId = ''] = parts;
  if (!isSubjectToken(workflowId) || !isSubjectToken(transactionId)) {
    return undefined;
  }
  return { workflowId, transactionId };
}
