import type {
  DescMethodUnary,
  DescService,
  MessageInitShape,
  MessageShape,
} from '@bufbuild/protobuf';

/** Where one event sits: the commit that carried it and the aggregate version it made. */
export interface CommitMeta {
  readonly aggregateId: string;
  /** Aggregate version after this event (each event adds one, gap-free from 1). */
  readonly version: bigint;
  /** Stream sequence of the commit that carried the event. */
  readonly sequence: bigint;
  readonly eventId: string;
  readonly commandId: string;
  readonly correlationId: string;
  readonly actor: string;
  /** When the command was handled, Unix milliseconds. */
  readonly occurredAtMs: number;
}

/**
 * A per-aggregate read-model fold: the row after `event`, or undefined to drop
 * the row. Pure; rows are immutable values.
 */
export type Projection<Event, Row> = (
  row: Row | undefined,
  event: Event,
  meta: CommitMeta,
) => Row | undefined;

/** The rows of a projection, by aggregate id; read-only for query handlers. */
export interface Rows<Row> {
  get(aggregateId: string): Row | undefined;
  readonly size: number;
  values(): IterableIterator<Row>;
  entries(): IterableIterator<[string, Row]>;
}

/** What a query handler may know besides its request. */
export interface QueryContext {
  /** The stream sequence the rows reflect. */
  readonly position: bigint;
}

/** The request types whose queries the runtime answers itself (History, PublicKeys). */
type BuiltinRequest =
  'cim.common.v1.HistoryRequest' | 'cim.common.v1.PublicKeysRequest';

/** One handler per RPC of a query service, typed from its generated descriptor; built-in queries excluded. */
export type QueryHandlers<S extends DescService> = {
  readonly [
    M in keyof S['method'] as S['method'][M] extends DescMethodUnary<
      infer I,
      infer _O
    >
      ? I['typeName'] extends BuiltinRequest
        ? never
        : M
      : M
  ]: S['method'][M] extends DescMethodUnary<infer I, infer O>
    ? (
        request: MessageShape<I>,
        context: QueryContext,
      ) => MessageInitShape<O> | Promise<MessageInitShape<O>>
    : never;
};
