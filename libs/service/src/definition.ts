import type { DescMessage, DescService, Message } from '@bufbuild/protobuf';
import type { Decider } from '@cim/kernel';
import type { CommandMeta } from '@cim/proto/cim/common/v1/envelope_pb';
import type { Projection, QueryHandlers, Rows } from './types.js';

/** The shape every `<Domain>Command` message has: metadata plus a oneof body of command messages. */
export type CommandMessage = Message & {
  meta?: CommandMeta | undefined;
  body: { case: string | undefined; value?: unknown };
};

/** The shape every `<Domain>Event` message has: a oneof body of event messages. */
export type EventMessage = Message & {
  body: { case: string | undefined; value?: unknown };
};

/** Everything a domain supplies; `defineService` turns it into a runnable service. */
export interface ServiceSpec<
  State,
  Command extends CommandMessage,
  Event extends EventMessage,
  Row,
  Q extends DescService,
> {
  /** Lower-case domain name: subjects `cim.<domain>.*`, stream `CIM_<DOMAIN>`. */
  readonly domain: string;
  readonly decider: Decider<State, Command, Event>;
  /** The generated `<Domain>Command` and `<Domain>Event` schemas. */
  readonly schemas: {
    readonly command: DescMessage;
    readonly event: DescMessage;
  };
  readonly projection: Projection<Event, Row>;
  readonly queries: {
    readonly service: Q;
    readonly handlers: (rows: Rows<Row>) => QueryHandlers<Q>;
  };
  /**
   * Bump when the shape of State or Row changes: snapshots written under
   * another version are ignored and state is rebuilt from the stream.
   */
  readonly snapshotVersion?: number;
  /**
   * Snapshots are written with the structured clone algorithm (node:v8), which
   * keeps plain data, Maps, Sets, bigints and typed arrays but not class
   * prototypes. A domain whose state or rows hold class instances restores them
   * here from the cloned data.
   */
  readonly revive?: {
    readonly state?: (cloned: unknown) => State;
    readonly row?: (cloned: unknown) => Row;
  };
}
