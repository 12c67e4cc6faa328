import { PULL_EXPIRES_MS } from '@cim/eventstore';
import { fromBinary, type DescMessage, type Message } from '@bufbuild/protobuf';
import { timestampMs } from '@bufbuild/protobuf/wkt';
import {
  DomainError,
  ErrorCode,
  decodeCommit,
  derivedUuid,
  eventWildcard,
  streamName,
} from '@cim/kernel';
import { FailureSpell, OccasionalLog, type Logger } from '@cim/observability';
import type { CommandMeta, Commit } from '@cim/proto/cim/common/v1/envelope_pb';
import {
  AckPolicy,
  DeliverPolicy,
  JetStreamApiError,
  jetstream,
  jetstreamManager,
  type ConsumerMessages,
  type JetStreamManager,
  type JsMsg,
} from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import type { CommandRoute } from './bindings.js';
import { DATA_SUBJECT } from './forgetter.js';
import type { CommandReply } from './command-handler.js';
import { ownCommand, type OwnCommand } from './own-command.js';
import type {
  CommandMessage,
  ForeignEventMeta,
  Reaction,
} from './definition.js';

/** Sends one of the domain's own commands through the ordinary command path. */
export type Dispatch<Command extends CommandMessage> = (
  aggregateId: string,
  command: Command,
  meta: CommandMeta,
  reply: CommandReply,
) => void;

/** Retry delay when a reaction's command could not be decided (service or store unavailable), ms. */
const RETRY_MS = 1000;

/** While a reaction waits for its source stream, how often it says so again, ms. */
const WAITING_LOG_EVERY_MS = 60_000;

/** While a reaction's commands fail and are retried, how often it says so, ms. */
const FAILED_LOG_EVERY_MS = 60_000;

/**
 * Runs one reaction: a durable consumer with explicit acks on the foreign
 * domain's stream. Waits (retrying) for that stream to exist, so services can
 * start in any order.
 */
export class ReactionRunner<Command extends CommandMessage> {
  private messages: ConsumerMessages | undefined;
  private stopped = false;
  private retry: NodeJS.Timeout | undefined;
  private readonly consumer: string;
  private jsm: Promise<JetStreamManager> | undefined;
  /** Failed attempts to attach since the last success. */
  private readonly waiting = new FailureSpell(WAITING_LOG_EVERY_MS);
  /** Commands that failed and will be retried: one line a minute, however many events fail. */
  private readonly failing = new OccasionalLog(FAILED_LOG_EVERY_MS);

  constructor(
    private readonly nc: NatsConnection,
    private readonly domain: string,
    private readonly reaction: Reaction<Command>,
    private readonly commandSchema: DescMessage,
    private readonly routes: ReadonlyMap<string, CommandRoute>,
    private readonly dispatch: Dispatch<Command>,
    private readonly log: Logger,
    /** The JetStream domain of the source stream when it is not this connection's own (sharded topology). */
    private readonly sourceJetStreamDomain?: string,
  ) {
    this.consumer = `cim-${domain}-${reaction.name}`;
  }

  /** The reaction's name, unique within its domain. */
  get name(): string {
    return this.reaction.name;
  }

  /**
   * Source events not acknowledged yet: not delivered, or delivered and in
   * progress. Undefined while the consumer does not exist or cannot be asked.
   */
  async pending(): Promise<number | undefined> {
    try {
      const info = await (
        await this.manager()
      ).consumers.info(streamName(this.reaction.source.domain), this.consumer);
      return info.num_pending + info.num_ack_pending;
    } catch {
      return undefined;
    }
  }

  /** The source stream's manager, made once it could be (making one asks the server). */
  private manager(): Promise<JetStreamManager> {
    const made = (this.jsm ??= jetstreamManager(
      this.nc,
      this.sourceJetStreamDomain === undefined
        ? {}
        : { domain: this.sourceJetStreamDomain },
    ));
    made.catch(() => {
      if (this.jsm === made) this.jsm = undefined;
    });
    return made;
  }

  /** Starts consuming as soon as the foreign stream exists. */
  start(): void {
    void this.attach();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retry);
    await this.messages?.close();
  }

  private async attach(): Promise<void> {
    if (this.stopped) return;
    const stream = streamName(this.reaction.source.domain);
    try {
      const where =
        this.sourceJetStreamDomain === undefined
          ? {}
          : { domain: this.sourceJetStreamDomain };
      const jsm = await this.manager();
      try {
        await jsm.consumers.info(stream, this.consumer);
      } catch (error) {
        if (!(error instanceof JetStreamApiError)) throw error;
        await jsm.consumers.add(stream, {
          durable_name: this.consumer,
          filter_subject: eventWildcard(this.reaction.source.domain),
          ack_policy: AckPolicy.Explicit,
          deliver_policy: DeliverPolicy.All,
          ack_wait: 30_000_000_000,
          max_ack_pending: 256,
        });
      }
      const consumer = await jetstream(this.nc, where).consumers.get(
        stream,
        this.consumer,
      );
      if (this.stopped) return;
      // Short pulls: a source whose server restarted (another shard, in the
      // sharded topology) is noticed by missed heartbeats within seconds.
      const messages = await consumer.consume({
        expires: PULL_EXPIRES_MS,
        callback: (msg) => this.receive(msg),
      });
      this.messages = messages;
      void messages.closed().then((ended) => {
        if (this.stopped) return;
        this.log.warn(
          { err: ended, reaction: this.reaction.name, stream },
          'reaction consumer ended; attaching again',
        );
        this.retry = setTimeout(() => void this.attach(), RETRY_MS);
      });
      const waited = this.waiting.succeeded();
      this.log.info(
        {
          reaction: this.reaction.name,
          stream,
          ...(waited && { waitedMs: waited.lastedMs }),
        },
        'reaction consuming',
      );
    } catch (err) {
      this.waited(err, stream);
      this.retry = setTimeout(() => void this.attach(), RETRY_MS);
    }
  }

  /**
   * Logs a failed attach: the first of a spell, then once a minute while it
   * lasts, so a source domain that is not running (yet) costs one line, not
   * one a second. A missing stream is expected and told by its message alone.
   */
  private waited(err: unknown, stream: string): void {
    const { log, lastedMs } = this.waiting.failed();
    if (!log) return;
    this.log.info(
      {
        ...(err instanceof JetStreamApiError
          ? { reason: err.message }
          : { err }),
        reaction: this.reaction.name,
        stream,
        ...(lastedMs > 0 && { waitedMs: lastedMs }),
      },
      'reaction waiting for its source stream',
    );
  }

  private receive(msg: JsMsg): void {
    let commit: Commit;
    try {
      commit = decodeCommit(msg.data);
    } catch (err) {
      // Unreadable forever: retrying cannot help.
      this.log.error(
        { err, seq: msg.seq, reaction: this.reaction.name },
        'unreadable foreign commit skipped',
      );
      msg.term();
      return;
    }
    // A forgotten subject's audit record carries no domain event to react to.
    const jobs =
      commit.aggregateType === DATA_SUBJECT
        ? []
        : this.commandsFor(commit, msg.seq);
    if (jobs.length === 0) {
      msg.ack();
      return;
    }
    let left = jobs.length;
    let retry = false;
    const settled = (again: boolean) => {
      retry ||= again;
      if (--left > 0) return;
      if (retry) msg.nak(RETRY_MS);
      else msg.ack();
    };
    for (const job of jobs) {
      this.dispatch(job.aggregateId, job.command, job.meta, {
        ok: () => settled(false),
        fail: (error: unknown) => {
          if (
            DomainError.is(error) &&
            error.code !== ErrorCode.CONCURRENCY_CONFLICT
          ) {
            // A refusal is an answer: the event is handled (a redelivery is refused the same way).
            // ALREADY_EXISTS is the usual answer to "make sure it exists": not worth a line each time.
            this.log[
              error.code === ErrorCode.ALREADY_EXISTS ? 'debug' : 'info'
            ](
              { err: error, reaction: this.reaction.name, eventSeq: msg.seq },
              'reaction command refused',
            );
            settled(false);
          } else {
            // Unavailable, or still conflicting after the handler's retries: the event comes again.
            const failed = this.failing.happened();
            if (failed !== undefined)
              this.log.warn(
                {
                  err: error,
                  reaction: this.reaction.name,
                  eventSeq: msg.seq,
                  failed,
                },
                'reaction command failed; will retry',
              );
            settled(true);
          }
        },
      });
    }
  }

  private commandsFor(commit: Commit, seq: number) {
    const { reaction } = this;
    const jobs: OwnCommand<Command>[] = [];
    const occurredAtMs =
      commit.occurredAt === undefined ? 0 : timestampMs(commit.occurredAt);
    const first = commit.version - BigInt(commit.events.length) + 1n;
    commit.events.forEach((record, i) => {
      if (
        reaction.events !== undefined &&
        !reaction.events.includes(record.eventType)
      )
        return;
      let event: Message;
      try {
        event = fromBinary(reaction.source.event, record.payload);
      } catch (err) {
        this.log.error(
          { err, eventId: record.eventId },
          'unreadable foreign event skipped',
        );
        return;
      }
      const meta: ForeignEventMeta = {
        domain: reaction.source.domain,
        eventType: record.eventType,
        aggregateId: commit.aggregateId,
        version: first + BigInt(i),
        sequence: BigInt(seq),
        eventId: record.eventId,
        commandId: commit.commandId,
        correlationId: commit.correlationId,
        actor: commit.actor,
        occurredAtMs,
      };
      reaction.react(event, meta).forEach((body, j) => {
        const job = ownCommand<Command>(
          this.domain,
          this.commandSchema,
          this.routes,
          body,
          {
            commandId: derivedUuid(record.eventId, reaction.name, String(j)),
            correlationId: commit.correlationId || record.eventId,
            causationId: record.eventId,
          },
        );
        if (job !== undefined) jobs.push(job);
      });
    });
    return jobs;
  }
}
