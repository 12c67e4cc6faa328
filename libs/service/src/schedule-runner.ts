import type { DescMessage } from '@bufbuild/protobuf';
import { DomainError, ErrorCode, derivedUuid } from '@cim/kernel';
import type { Logger } from '@cim/observability';
import type { CommandRoute } from './bindings.js';
import type { CommandMessage, Schedule } from './definition.js';
import { ownCommand, type OwnCommand } from './own-command.js';
import type { Dispatch } from './reaction-runner.js';
import type { Rows } from './types.js';

/**
 * The command id of a schedule's occurrence: the same on every instance and
 * every tick, so the stream's duplicate window and the decider let it take
 * effect once.
 */
export function scheduledCommandId(
  domain: string,
  schedule: string,
  key: string,
): string {
  return derivedUuid(`${domain}/${schedule}/${key}`);
}

/**
 * The commands a schedule's `due` answers for `nowMs`, built for the command
 * path: a root command each (correlation and causation = its id), actor
 * `service:<domain>`. Bodies that are not the domain's commands are dropped.
 */
export function dueCommands<Command extends CommandMessage, Row>(
  domain: string,
  schedule: Schedule<Command, Row>,
  rows: Rows<Row>,
  nowMs: number,
  commandSchema: DescMessage,
  routes: ReadonlyMap<string, CommandRoute>,
): Array<OwnCommand<Command> & { readonly key: string }> {
  const jobs: Array<OwnCommand<Command> & { readonly key: string }> = [];
  for (const { key, body } of schedule.due(rows, nowMs)) {
    const commandId = scheduledCommandId(domain, schedule.name, key);
    const job = ownCommand<Command>(domain, commandSchema, routes, body, {
      commandId,
      correlationId: commandId,
      causationId: commandId,
    });
    if (job !== undefined) jobs.push({ ...job, key });
  }
  return jobs;
}

/**
 * Runs one schedule on an unref'd interval (it never keeps a process alive).
 * A tick that throws is logged and the next one runs; an occurrence whose
 * command is still being handled is not sent again until it is answered.
 */
export class ScheduleRunner<Command extends CommandMessage, Row> {
  private interval: NodeJS.Timeout | undefined;
  private readonly sending = new Set<string>();

  constructor(
    private readonly domain: string,
    private readonly schedule: Schedule<Command, Row>,
    private readonly rows: Rows<Row>,
    private readonly commandSchema: DescMessage,
    private readonly routes: ReadonlyMap<string, CommandRoute>,
    private readonly dispatch: Dispatch<Command>,
    private readonly log: Logger,
  ) {}

  start(): void {
    this.interval = setInterval(() => this.tick(), this.schedule.everyMs);
    this.interval.unref();
  }

  /** No tick starts after this; commands already sent finish on the command path. */
  stop(): void {
    clearInterval(this.interval);
  }

  private tick(): void {
    const schedule = this.schedule.name;
    let jobs: ReturnType<typeof dueCommands<Command, Row>>;
    try {
      jobs = dueCommands(
        this.domain,
        this.schedule,
        this.rows,
        Date.now(),
        this.commandSchema,
        this.routes,
      );
    } catch (err) {
      this.log.error({ err, schedule }, 'schedule failed; next tick retries');
      return;
    }
    for (const { key, aggregateId, command, meta } of jobs) {
      if (this.sending.has(key)) continue;
      this.sending.add(key);
      const context = { schedule, key, commandId: meta.commandId };
      this.dispatch(aggregateId, command, meta, {
        ok: () => {
          this.sending.delete(key);
          this.log.debug(context, 'scheduled command accepted');
        },
        fail: (err: unknown) => {
          this.sending.delete(key);
          if (
            DomainError.is(err) &&
            err.code !== ErrorCode.CONCURRENCY_CONFLICT
          ) {
            // Expected when another instance or an earlier tick got there first.
            this.log.debug({ err, ...context }, 'scheduled command refused');
          } else {
            this.log.warn(
              { err, ...context },
              'scheduled command failed; next tick retries',
            );
          }
        },
      });
    }
  }
}
