import {
  create,
  toBinary,
  type DescService,
  type Message,
} from '@bufbuild/protobuf';
import { EventStore, isNoRoom } from '@cim/eventstore';
import { randomBytes } from 'node:crypto';
import {
  DomainError,
  ErrorCode,
  HUB_JETSTREAM_DOMAIN,
  assertDomainName,
  methodSubject,
  queueGroup,
} from '@cim/kernel';
import { UnavailableError, connectNats, errorReply } from '@cim/messaging';
import {
  createLogger,
  createMetrics,
  startHttpEndpoint,
  stateMetrics,
  type HttpEndpoint,
  type Logger,
  type Metrics,
} from '@cim/observability';
import type { NatsConnection } from '@nats-io/nats-core';
import { Svcm, type Service, type ServiceMsg } from '@nats-io/services';
import { AggregateLoader } from './aggregate-loader.js';
import {
  aggregateIdOf,
  commandBuilder,
  commandMeta,
  commandRequest,
  commandRoutes,
  decodeRequest,
  encodeResult,
  isInfrastructureError,
  queryMinPosition,
  queryRoutes,
  respondError,
  type CommandRoute,
  type QueryRoute,
} from './bindings.js';
import {
  CommandHandler,
  type CommandHandlerOptions,
  type CommandReply,
} from './command-handler.js';
import { jetStreamDomainOf, type Durability, type Topology } from './config.js';
import type {
  CommandMessage,
  EventMessage,
  ServiceIo,
  ServiceSpec,
} from './definition.js';
import {
  ProjectionRunner,
  type ProjectionOptions,
} from './projection-runner.js';
import { ReactionRunner, type Dispatch } from './reaction-runner.js';
import { ScheduleRunner } from './schedule-runner.js';
import { LocalCommits } from './local-commits.js';
import { hasPersonalFields, reveal } from './personal-data.js';
import { Vault } from './vault.js';
import {
  Admission,
  DEFAULT_ADMISSION,
  queuedPerAggregate,
  type AdmissionLimits,
} from './admission.js';
import { boundByDeadline } from './deadline.js';
import { Forgetter } from './forgetter.js';
import { FORGET_SUBJECT } from './bindings.js';
import { history, publicKeys, type BuiltinQuery } from './audit-queries.js';
import { Checkpointer, type CheckpointOptions } from './checkpointer.js';
import { publishKeys } from './key-registry.js';
import { ephemeralKeyring, type Keyring } from './keyring.js';
import type { HistoryRequest } from '@cim/proto/cim/common/v1/integrity_pb';
import type { QueryContext } from './types.js';

/** How one instance of a service runs. Everything has a default except where to find NATS. */
export interface StartOptions
  extends CommandHandlerOptions, ProjectionOptions, CheckpointOptions {
  /** An open connection (tests share one), or a URL to connect to. */
  readonly nc?: NatsConnection;
  readonly natsUrl?: string;
  /** Port for /metrics, /healthz, /readyz; 0 = any free port; undefined = no HTTP endpoint. */
  readonly httpPort?: number;
  readonly log?: Logger;
  readonly durability?: Durability;
  /** Stream and KV replicas: 1 on one server, 3 on a cluster. */
  readonly replicas?: number;
  /**
   * How long the stream remembers a command id, ms; default 120,000. A
   * command retried with the same id within it is stored once and answered
   * with its first result.
   */
  readonly duplicateWindowMs?: number;
  /** Where other domains' streams live (reactions read them); default single. */
  readonly topology?: Topology;
  /** How long a query waits for `min_version` or `Cim-Min-Position`, and `ServiceIo.settled` for the stream, ms; default 4000. */
  readonly minVersionTimeoutMs?: number;
  /** Service version reported by `$SRV` INFO; default 0.1.0. */
  readonly version?: string;
  /**
   * The service's signing keys. Default: one key generated for the domain
   * on its first start in this process, shared by every instance and restart
   * in it (tests); `runMain` loads them from the data directory.
   */
  readonly keyring?: Keyring;
  /** Commit macs, signed checkpoints and mac checks; default true (off only to measure their cost). */
  readonly integrity?: boolean;
  /**
   * Wraps data subjects' keys in the vault (32 bytes). Default: one key per
   * process (tests); `runMain` loads CIM_MASTER_KEY or `<data dir>/keys/master.key`.
   */
  readonly masterKey?: Buffer;
  /** Client requests held at once before more are refused with UNAVAILABLE; default {@link DEFAULT_ADMISSION}. */
  readonly admission?: AdmissionLimits;
}

/** The master key of a process that was given none: fine for tests, never for data that must outlive it. */
const DEVELOPMENT_MASTER_KEY = randomBytes(32);

/** A started service instance. */
export interface RunningService {
  readonly domain: string;
  /** The bound HTTP port, when one was asked for. */
  readonly httpPort: number | undefined;
  readonly store: EventStore;
  readonly metrics: Metrics;
  /** Stops taking requests, lets in-flight ones finish, and closes everything it opened. */
  stop(): Promise<void>;
}

/** A domain service ready to start any number of times (tests start several in one process). */
export interface ServiceDefinition {
  readonly domain: string;
  /** The version of the domain's snapshot formats (aggregate and read model): snapshots of another are ignored. */
  readonly snapshotVersion: number;
  start(options: StartOptions): Promise<RunningService>;
}

/**
 * Turns a domain's decider, projection and queries into a service: commands
 * on `cim.<domain>.cmd.<Name>` and queries on `cim.<domain>.qry.<Name>` in
 * the queue group `cim-<domain>`, registered as a NATS micro service. Defining
 * has no side effects; `start()` connects, replays and serves. The domain's
 * reactions and schedules send its own commands through the same command
 * path; `stop()` ends them first, then drains.
 *
 * A domain whose projection, queries and `prepare` share state of their own
 * (secondary indexes, say) passes a function that makes the spec: it is
 * called once here for the routes and once per `start()`, so every instance
 * has its own.
 */
export function defineService<
  State,
  Command extends CommandMessage,
  Event extends EventMessage,
  Row,
  Q extends DescService,
>(
  specOrMake:
    | ServiceSpec<State, Command, Event, Row, Q>
    | (() => ServiceSpec<State, Command, Event, Row, Q>),
): ServiceDefinition {
  const make = typeof specOrMake === 'function' ? specOrMake : () => specOrMake;
  const spec = make();
  assertDomainName(spec.domain);
  const commands = commandRoutes(spec.domain, spec.schemas.command);
  const queries = queryRoutes(spec.domain, spec.queries.service);
  const aggregateType = spec.schemas.command.name.replace(/Command$/, '');
  return {
    domain: spec.domain,
    snapshotVersion: snapshotVersionOf(spec),
    start: (options) =>
      startService(make(), commands, queries, aggregateType, options),
  };
}

/** Each domain's keyring for starts that bring none: instances of one domain share their keys, as the deployed ones do. */
const developmentKeyrings = new Map<string, Keyring>();

function developmentKeyring(domain: string): Keyring {
  let keyring = developmentKeyrings.get(domain);
  if (keyring === undefined) {
    keyring = ephemeralKeyring();
    developmentKeyrings.set(domain, keyring);
  }
  return keyring;
}

/** The version of a domain's snapshot formats: 1 unless its spec says otherwise. */
function snapshotVersionOf(spec: {
  readonly snapshotVersion?: number;
}): number {
  return spec.snapshotVersion ?? 1;
}

async function startService<
  State,
  Command extends CommandMessage,
  Event extends EventMessage,
  Row,
  Q extends DescService,
>(
  spec: ServiceSpec<State, Command, Event, Row, Q>,
  commands: readonly CommandRoute[],
  queries: readonly QueryRoute[],
  aggregateType: string,
  options: StartOptions,
): Promise<RunningService> {
  const { domain } = spec;
  const serviceName = `cim-${domain}`;
  const log = (options.log ?? createLogger({ service: serviceName })).child({
    domain,
  });
  const metrics = createMetrics(serviceName);
  const ownsConnection = options.nc === undefined;
  const nc =
    options.nc ??
    (await connectNats({ url: requireUrl(options), name: serviceName }));
  const snapshotVersion = snapshotVersionOf(spec);

  // (1) Storage: the stream, the snapshot bucket, and the server's features.
  const durability = options.durability ?? 'strict';
  const limits = options.admission ?? DEFAULT_ADMISSION;
  const admission = new Admission(limits, log);
  // Gauges read the parts below when scraped, once the service has started.
  const state = stateMetrics(metrics.registry, {
    requests: () => admission.inFlight,
    position: () => projection.position,
    stream: () => store.state(),
    failingAppends: () => handler.failingAppendsSeconds(),
    cache: () => handler.cacheStats(),
    reactions: () =>
      Promise.all(
        reactions.map(async (r) => ({
          name: r.name,
          pending: await r.pending(),
        })),
      ),
  });
  const store = await EventStore.open(nc, {
    domain,
    replicas: options.replicas ?? 1,
    ...(options.duplicateWindowMs === undefined
      ? {}
      : { duplicateWindowMs: options.duplicateWindowMs }),
    durability,
    batch: { onBatch: state.batchSize },
  });
  if (!store.features.current) {
    log.warn(
      { serverVersion: store.features.version },
      'nats-server is older than 2.12: no atomic batches or sync_interval; acknowledged writes may be lost on power failure',
    );
  }
  log.info({ durability, batching: store.batching }, 'event store open');
  const { decider } = spec;
  const integrity = options.integrity ?? true;
  const keyring = options.keyring ?? developmentKeyring(domain);
  if (integrity) await publishKeys(nc, domain, keyring, options.replicas ?? 1);
  // Newest first, as a keyring holds them: the first (the active key) seals snapshots.
  const macKeys = integrity ? keyring.keys.map((k) => k.macKey) : undefined;
  const loader = new AggregateLoader<State, Event>(
    store,
    decider,
    spec.schemas.event,
    snapshotVersion,
    spec.revive?.state,
    macKeys,
    log,
  );
  const localCommits = new LocalCommits();
  // Personal fields: encrypted per data subject, so that forgetting one destroys a key, not history.
  const vault = hasPersonalFields(spec.schemas.event)
    ? await Vault.open(
        nc,
        options.masterKey ?? DEVELOPMENT_MASTER_KEY,
        options.replicas ?? 1,
        undefined,
        // One vault for the whole fleet, so that forgetting a subject anywhere forgets it everywhere.
        options.topology === 'sharded' ? HUB_JETSTREAM_DOMAIN : undefined,
      )
    : undefined;
  const handler = new CommandHandler<State, Command, Event>(
    domain,
    aggregateType,
    decider,
    spec.schemas.event,
    store,
    loader,
    log,
    metrics,
    { maxQueuedPerAggregate: queuedPerAggregate(limits), ...options },
    integrity ? keyring.active.macKey : undefined,
    localCommits,
    vault,
  );

  // (2) The read model, caught up before any query is answered; with
  // integrity on, the same walk seals the stream with signed checkpoints.
  const checkpointer = integrity
    ? new Checkpointer(store, keyring, log, options)
    : undefined;
  const projection = new ProjectionRunner<Event, Row>(
    store,
    spec.projection,
    spec.schemas.event,
    snapshotVersion,
    log,
    (commit, seq, data, events) => {
      handler.remember(commit, seq);
      if (commit.aggregateType === aggregateType && events !== undefined)
        handler.follow(commit.aggregateId, { seq, data }, { commit, events });
    },
    options,
    spec.revive?.row,
    checkpointer === undefined
      ? undefined
      : (seq, subject, data, trustedHash) =>
          checkpointer.observe(seq, subject, data, trustedHash),
    localCommits,
    macKeys,
  );
  await projection.start(
    checkpointer === undefined
      ? undefined
      : (position) => checkpointer.start(position),
  );
  // Below the 5 s after which the gateway and the CLI give up on a request:
  // a wait that runs out is answered with its reason, not their timeout.
  const waitTimeout = options.minVersionTimeoutMs ?? 4000;
  const io: ServiceIo = {
    domain,
    nc,
    log,
    replicas: options.replicas ?? 1,
    settled: async (deadline) => {
      const timeoutMs = boundByDeadline(waitTimeout, deadline);
      await positionReached(projection, await store.lastSequence(), timeoutMs);
    },
    reached: async (aggregateId, version, deadline) =>
      versionReached(
        projection,
        aggregateId,
        version,
        boundByDeadline(waitTimeout, deadline),
      ),
  };
  const handlers = spec.queries.handlers(projection, io) as Record<
    string,
    (request: Message, context: QueryContext) => unknown
  >;

  // (3) Requests, as a NATS micro service.
  const service: Service = await new Svcm(nc).add({
    name: serviceName,
    version: options.version ?? '0.1.0',
    description: `CIM ${domain} domain service`,
    queue: queueGroup(domain),
    metadata: { domain, stream: store.stream },
  });
  const actor = `external:nats`;
  const { prepare } = spec;
  const overloaded = errorReply(
    ErrorCode.UNAVAILABLE,
    `the ${domain} service is overloaded (${limits.maxRequests} requests or ${limits.maxBytes} bytes in flight); retry later`,
  );
  let inFlight = 0;
  let drained: (() => void) | undefined;
  const done = () => {
    if (--inFlight === 0) drained?.();
  };
  /**
   * Takes a client request into flight, or refuses it with UNAVAILABLE when
   * the instance holds as much as it may; `finished` gives it back.
   */
  const admitted = (msg: ServiceMsg, refused: { inc(): void }): boolean => {
    if (!admission.admit(msg.data.length)) {
      msg.respond(overloaded.body, { headers: overloaded.headers });
      refused.inc();
      return false;
    }
    inFlight++;
    return true;
  };
  const finished = (msg: ServiceMsg) => {
    admission.release(msg.data.length);
    done();
  };
  /**
   * Every command, from a client, a reaction or a schedule: the domain's
   * `prepare` where it has one, then the handler. A prepare that answers
   * synchronously (most commands of most domains) costs no promise.
   */
  const dispatch: Dispatch<Command> = (aggregateId, command, meta, reply) => {
    if (prepare === undefined) {
      handler.handle(aggregateId, command, meta, reply);
      return;
    }
    let prepared: Command | Promise<Command>;
    try {
      prepared = prepare(command, io, reply.deadline);
    } catch (failure) {
      reply.fail(failure);
      return;
    }
    if (prepared instanceof Promise) {
      prepared.then(
        (ready) => handler.handle(aggregateId, ready, meta, reply),
        (failure: unknown) => reply.fail(failure),
      );
    } else {
      handler.handle(aggregateId, prepared, meta, reply);
    }
  };

  for (const route of commands) {
    const accepted = metrics.commands.labels(route.name, 'accepted');
    const refused = metrics.commands.labels(route.name, 'overloaded');
    const timer = metrics.commandSeconds.labels(route.name);
    const toCommand = commandBuilder(spec.schemas.command, route.caseName);
    service.addEndpoint(route.name, {
      subject: route.subject,
      handler: (error, msg) => {
        if (error !== null) return; // the endpoint is closing
        if (!admitted(msg, refused)) return;
        const started = performance.now();
        const reply: CommandReply & { deadline: number | undefined } = {
          ok: (result) => {
            msg.respond(result);
            accepted.inc();
            timer.observe((performance.now() - started) / 1000);
            finished(msg);
          },
          fail: (thrown) => {
            const failure = withRoomNamed(thrown, domain);
            answerError(msg, failure, log, { command: route.name });
            metrics.commands.inc({
              command: route.name,
              outcome: outcomeOf(failure),
            });
            timer.observe((performance.now() - started) / 1000);
            finished(msg);
          },
          deadline: undefined,
        };
        try {
          const { meta, timeoutMs } = commandRequest(msg, actor);
          if (timeoutMs !== undefined) reply.deadline = started + timeoutMs;
          const body = decodeRequest<Record<string, unknown> & Message>(
            route.input,
            msg.data,
          );
          const aggregateId = aggregateIdOf(body, route.idField, meta);
          const command = toCommand(meta, body) as Command;
          dispatch(aggregateId, command, meta, reply);
        } catch (failure) {
          reply.fail(failure);
        }
      },
    });
  }

  // The built-in ForgetSubject command, where the domain declares it.
  const forget = spec.schemas.command.file.services
    .find((s) => s.name.endsWith('CommandService'))
    ?.methods.find((m) => m.input.typeName === FORGET_SUBJECT);
  if (forget !== undefined && vault !== undefined) {
    const forgetter = new Forgetter(
      store,
      vault,
      domain,
      integrity ? keyring.active.macKey : undefined,
    );
    const refused = metrics.commands.labels(forget.name, 'overloaded');
    service.addEndpoint(forget.name, {
      subject: methodSubject(forget),
      handler: (error, msg) => {
        if (error !== null) return;
        if (!admitted(msg, refused)) return;
        Promise.resolve()
          .then(() =>
            forgetter.forget(
              commandMeta(msg, actor),
              decodeRequest(forget.input, msg.data),
            ),
          )
          .then(
            (result) => msg.respond(encodeResult(result)),
            (failure: unknown) =>
              answerError(msg, withRoomNamed(failure, domain), log, {
                command: forget.name,
              }),
          )
          .finally(() => finished(msg));
      },
    });
  }

  const builtins: Record<BuiltinQuery, (request: Message) => Promise<unknown>> =
    {
      history: (request) =>
        history(
          store,
          spec.schemas.event,
          request as HistoryRequest,
          (event) =>
            vault === undefined ||
            event.$typeName !== spec.schemas.event.typeName
              ? event
              : reveal(event, spec.schemas.event, vault),
        ),
      publicKeys: () => publicKeys(nc, domain),
    };
  for (const route of queries) {
    const handle =
      route.builtin === undefined
        ? handlers[route.localName]
        : builtins[route.builtin];
    if (handle === undefined)
      throw new Error(`no handler for query ${route.name}`);
    const timer = metrics.querySeconds.labels(route.name);
    const answered = metrics.queries.labels(route.name, 'ok');
    const refused = metrics.queries.labels(route.name, 'overloaded');
    service.addEndpoint(route.name, {
      subject: route.subject,
      handler: (error, msg) => {
        if (error !== null) return;
        if (!admitted(msg, refused)) return;
        const started = performance.now();
        const ok = () => {
          answered.inc();
          timer.observe((performance.now() - started) / 1000);
          finished(msg);
        };
        const fail = (failure: unknown) => {
          answerError(msg, failure, log, { query: route.name });
          metrics.queries.inc({
            query: route.name,
            outcome: outcomeOf(failure),
          });
          timer.observe((performance.now() - started) / 1000);
          finished(msg);
        };
        // Answered in the same turn unless it has to wait (min_version, Cim-Min-Position, an async handler, personal fields).
        let waiting: Promise<void> | undefined;
        try {
          waiting = answerQuery(
            route,
            handle,
            msg,
            projection,
            waitTimeout,
            vault,
          );
        } catch (failure) {
          fail(failure);
          return;
        }
        if (waiting === undefined) ok();
        else waiting.then(ok, fail);
      },
    });
  }

  // (4) The domain's own commands: choreography (foreign events answered)
  // and schedules (commands that fall due with time).
  const routesByCase = new Map(
    commands.map((route) => [route.caseName, route]),
  );
  const reactions = (spec.reactions ?? []).map(
    (reaction) =>
      new ReactionRunner<Command>(
        nc,
        domain,
        reaction,
        spec.schemas.command,
        routesByCase,
        dispatch,
        log,
        jetStreamDomainOf(options.topology ?? 'single', reaction.source.domain),
      ),
  );
  for (const reaction of reactions) reaction.start();
  const schedules = (spec.schedules ?? []).map(
    (schedule) =>
      new ScheduleRunner<Command, Row>(
        domain,
        schedule,
        projection,
        spec.schemas.command,
        routesByCase,
        // Counted in flight, so stop() lets a scheduled command finish.
        (aggregateId, command, meta, reply) => {
          inFlight++;
          dispatch(aggregateId, command, meta, {
            ok: (result) => {
              reply.ok(result);
              done();
            },
            fail: (failure) => {
              reply.fail(failure);
              done();
            },
          });
        },
        log,
      ),
  );
  for (const schedule of schedules) schedule.start();

  // Started means reachable: the server has every subscription before start() resolves.
  await nc.flush();

  // (5) Probes and metrics.
  let http: HttpEndpoint | undefined;
  if (options.httpPort !== undefined) {
    http = await startHttpEndpoint({
      port: options.httpPort,
      registry: metrics.registry,
      readiness: () =>
        nc.isClosed()
          ? { ready: false, reason: 'NATS connection closed' }
          : projection.caughtUp
            ? { ready: true }
            : { ready: false, reason: 'projection catching up' },
    });
  }
  log.info(
    {
      stream: store.stream,
      position: projection.position,
      httpPort: http?.port,
      serverVersion: store.features.version,
    },
    'service started',
  );

  let stopping: Promise<void> | undefined;
  return {
    domain,
    httpPort: http?.port,
    store,
    metrics,
    stop: () =>
      (stopping ??= (async () => {
        // Stop taking new requests and events, let the ones in flight answer, then close.
        for (const schedule of schedules) schedule.stop();
        await Promise.all(reactions.map((r) => r.stop()));
        await service.stop();
        checkpointer?.stop();
        vault?.close();
        if (inFlight > 0) {
          await new Promise<void>((resolve) => {
            drained = resolve;
            setTimeout(resolve, 10_000).unref();
          });
        }
        await projection.stop();
        store.close();
        await http?.close();
        if (ownsConnection) await nc.drain();
        log.info('service stopped');
      })()),
  };
}

/** Answers one query; returns a promise only when the answer has to wait for something. */
function answerQuery(
  route: QueryRoute,
  handle: (request: Message, context: QueryContext) => unknown,
  msg: ServiceMsg,
  projection: {
    readonly position: number;
    waitFor(id: string, version: bigint, timeoutMs: number): Promise<void>;
    waitForPosition(position: number, timeoutMs: number): Promise<void>;
  },
  waitTimeoutMs: number,
  vault: Vault | undefined,
): Promise<void> | undefined {
  const request = decodeRequest<Message & Record<string, unknown>>(
    route.method.input,
    msg.data,
  );
  const minVersion = route.hasMinVersion
    ? (request['minVersion'] as bigint)
    : 0n;
  const answer = (): Promise<void> | undefined => {
    const result = handle(request, {
      position: BigInt(projection.position),
    });
    return isPromiseLike(result)
      ? Promise.resolve(result).then((awaited) =>
          respondQuery(route, msg, awaited, vault),
        )
      : respondQuery(route, msg, result, vault);
  };
  // Most queries wait for nothing, and are answered without a promise.
  const minPosition = queryMinPosition(msg);
  const byPosition =
    minPosition > 0
      ? positionReached(projection, minPosition, waitTimeoutMs)
      : undefined;
  const byVersion =
    minVersion > 0n && route.idField !== undefined
      ? versionReached(
          projection,
          request[route.idField] as string,
          minVersion,
          waitTimeoutMs,
        )
      : undefined;
  if (byPosition === undefined && byVersion === undefined) return answer();
  return Promise.all([byPosition, byVersion]).then(answer);
}

/** Resolves once the read model holds `version` of the aggregate; UNAVAILABLE after `timeoutMs`. */
function versionReached(
  projection: {
    waitFor(id: string, version: bigint, timeoutMs: number): Promise<void>;
  },
  aggregateId: string,
  version: bigint,
  timeoutMs: number,
): Promise<void> {
  return projection
    .waitFor(aggregateId, version, timeoutMs)
    .catch((cause: unknown) => {
      throw new UnavailableError(
        `read model has not reached version ${version} of ${aggregateId}`,
        { cause },
      );
    });
}

/** Resolves once the read model has folded the stream up to `position`; UNAVAILABLE after `timeoutMs`. */
function positionReached(
  projection: {
    waitForPosition(position: number, timeoutMs: number): Promise<void>;
  },
  position: number,
  timeoutMs: number,
): Promise<void> {
  return projection
    .waitForPosition(position, timeoutMs)
    .catch((cause: unknown) => {
      throw new UnavailableError(
        `read model has not reached stream position ${position}`,
        { cause },
      );
    });
}

function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}

/** Sends a query's response, its personal fields revealed first where it has any. */
function respondQuery(
  route: QueryRoute,
  msg: ServiceMsg,
  result: unknown,
  vault: Vault | undefined,
): Promise<void> | undefined {
  const { output } = route.method;
  const response = create(output, result as never);
  if (vault === undefined || !hasPersonalFields(output)) {
    msg.respond(toBinary(output, response));
    return undefined;
  }
  return reveal(response, output, vault).then((shown) => {
    msg.respond(toBinary(output, shown));
  });
}

function answerError(
  msg: ServiceMsg,
  failure: unknown,
  log: Logger,
  context: Record<string, string>,
): void {
  if (isInfrastructureError(failure))
    log.error({ err: failure, ...context }, 'request failed');
  respondError(msg, failure);
}

/**
 * A request's write to one of the service's KV or object stores (ForgetSubject's
 * purge of a vault key, a domain's own bucket) refused for want of room is
 * answered like a commit refused for it: UNAVAILABLE, retry once there is
 * room, not INTERNAL.
 */
function withRoomNamed(failure: unknown, domain: string): unknown {
  if (!isNoRoom(failure)) return failure;
  return new UnavailableError(
    `the ${domain} service's JetStream storage is full (${(failure as Error).message}); nothing was applied; retry once it has room`,
    { cause: failure },
  );
}

function outcomeOf(failure: unknown): string {
  if (DomainError.is(failure)) return 'rejected';
  if (UnavailableError.is(failure)) return 'unavailable';
  return 'error';
}

function requireUrl(options: StartOptions): string {
  if (options.natsUrl === undefined)
    throw new Error('start() needs either nc or natsUrl');
  return options.natsUrl;
}
