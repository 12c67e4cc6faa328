import type { DescMessage, DescService, Message } from '@bufbuild/protobuf';
import type { Decider } from '@cim/kernel';
import type { Logger } from '@cim/observability';
import type { NatsConnection } from '@nats-io/nats-core';
import type { CommandMeta } from '@cim/proto/cim/common/v1/envelope_pb';
import type { CommitMeta, Projection, QueryHandlers, Rows } from './types.js';

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
    readonly handlers: (rows: Rows<Row>, io: ServiceIo) => QueryHandlers<Q>;
  };
  /**
   * I/O a command needs before the pure decide, such as storing content bytes
   * in an object store and replacing them with their content id. Runs for
   * commands from clients and from reactions; a thrown DomainError refuses
   * the command. Most domains have none. `deadline` is when the caller stops
   * waiting (`performance.now()` time, from the command's `Cim-Timeout-Ms`),
   * undefined when it did not say: I/O bounds its waits by it with
   * {@link boundByDeadline}, so that no step outlasts the caller.
   */
  readonly prepare?: (
    command: Command,
    io: ServiceIo,
    deadline: number | undefined,
  ) => Promise<Command> | Command;
  /**
   * Bump when the shape of State or Row changes: snapshots written under
   * another version are ignored and state is rebuilt from the stream.
   */
  readonly snapshotVersion?: number;
  /** Choreography: foreign events this domain answers with its own commands. */
  readonly reactions?: readonly Reaction<Command>[];
  /** Clock-driven commands: what falls due with time (timers, expiries). */
  readonly schedules?: readonly Schedule<Command, Row>[];
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

/** The edge resources a domain's `prepare` and query handlers may use. */
export interface ServiceIo {
  readonly domain: string;
  readonly nc: NatsConnection;
  readonly log: Logger;
  /** Stream and KV replicas the service runs with. */
  readonly replicas: number;
  /**
   * Resolves once the read model holds everything the domain's stream held
   * when it was called, commits of other instances included; rejects with
   * UNAVAILABLE when it does not get there in time, or by `deadline` (a
   * command's, as `prepare` receives it) when that is sooner. For a `prepare`
   * that reads facts about other aggregates from the read model.
   */
  readonly settled: (deadline?: number) => Promise<void>;
  /**
   * Resolves once the read model holds `version` of the aggregate (at once
   * for 0); rejects with UNAVAILABLE when it does not get there in time, or
   * by `deadline` when that is sooner.
   */
  readonly reached: (
    aggregateId: string,
    version: bigint,
    deadline?: number,
  ) => Promise<void>;
}

/** Where a foreign event came from, for a reaction. */
export interface ForeignEventMeta extends CommitMeta {
  /** The domain that recorded the event. */
  readonly domain: string;
  /** Its type name (`NodeAdded`). */
  readonly eventType: string;
}

/**
 * A cross-domain reaction: a durable consumer on another domain's events that
 * turns some of them into this domain's own commands. `react` is pure; the
 * runtime derives each command's id from the event id (so a redelivered event
 * is applied once), sets causation to the event and actor to
 * `service:<domain>`, runs the commands through the ordinary command path,
 * and acknowledges the event once every command was accepted or refused.
 */
export interface Reaction<Command extends CommandMessage> {
  /** Unique within the domain; the durable consumer is `cim-<domain>-<name>`. */
  readonly name: string;
  /** The foreign domain and its generated `<Domain>Event` schema. */
  readonly source: { readonly domain: string; readonly event: DescMessage };
  /** Event type names to receive; others are acknowledged without decoding. All when omitted. */
  readonly events?: readonly string[];
  readonly react: (
    event: Message,
    meta: ForeignEventMeta,
  ) => ReadonlyArray<Command['body']>;
}

/**
 * One command a schedule finds due. `key` names the occurrence (a timer and
 * its due time, say): the command id derives from the domain, the schedule's
 * name and the key, so every instance and every tick sends the same id for it.
 */
export interface DueCommand<Command extends CommandMessage> {
  readonly key: string;
  /** The command; its `<domain>_id` field names the aggregate, as for any command. */
  readonly body: Command['body'];
}

/**
 * Commands that fall due with time. Every `everyMs` each instance calls the
 * pure `due` with the read model and its clock (Unix ms) and sends what it
 * answers through the ordinary command path, with actor `service:<domain>`
 * and the id derived from the key. An occurrence therefore takes effect once
 * however many instances or ticks send it: the stream's duplicate window
 * drops copies, and the decider refuses what already happened (logged at
 * debug level). A command refused or failed is sent again while `due` still
 * answers it.
 */
export interface Schedule<Command extends CommandMessage, Row> {
  /** Unique within the domain; part of every command id it derives. */
  readonly name: string;
  /** How often `due` runs, ms. */
  readonly everyMs: number;
  readonly due: (
    rows: Rows<Row>,
    nowMs: number,
  ) => Iterable<DueCommand<Command>>;
}
