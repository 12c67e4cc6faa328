import { create, type DescMessage } from '@bufbuild/protobuf';
import {
  CommandMetaSchema,
  type CommandMeta,
} from '@cim/proto/cim/common/v1/envelope_pb';
import type { CommandRoute } from './bindings.js';
import type { CommandMessage } from './definition.js';

/** A command a service sends itself, ready for the ordinary command path. */
export interface OwnCommand<Command extends CommandMessage> {
  readonly aggregateId: string;
  readonly command: Command;
  readonly meta: CommandMeta;
}

/**
 * Builds one of the domain's own commands from a reaction's or a schedule's
 * body: actor `service:<domain>`, the aggregate named by the body's
 * `<domain>_id` (the command id when empty, as for a client's command).
 * Undefined when the body is not one of the domain's commands.
 */
export function ownCommand<Command extends CommandMessage>(
  domain: string,
  commandSchema: DescMessage,
  routes: ReadonlyMap<string, CommandRoute>,
  body: Command['body'],
  ids: {
    readonly commandId: string;
    readonly correlationId: string;
    readonly causationId: string;
  },
): OwnCommand<Command> | undefined {
  const route = body.case === undefined ? undefined : routes.get(body.case);
  if (route === undefined) return undefined;
  const value = body.value as Record<string, unknown>;
  const named = value[route.idField];
  const aggregateId =
    typeof named === 'string' && named !== '' ? named : ids.commandId;
  value[route.idField] = aggregateId;
  const meta = create(CommandMetaSchema, {
    ...ids,
    actor: `service:${domain}`,
  });
  return {
    aggregateId,
    command: create(commandSchema, { meta, body }) as unknown as Command,
    meta,
  };
}
