import { isUuid } from '@cim/kernel';
import { connectNats } from '@cim/messaging';
import { ConfigError, jetStreamDomainOf, loadConfig } from '@cim/service';
import { describeError, sendCommand, sendQuery, status } from './commands.js';
import { UsageError } from './registry.js';
import { auditTrail, formatAudit, formatReport, verify } from './audit.js';

const USAGE = `usage:
  cim cmd <domain> <Command> '<json>' [--command-id <uuid>] [--expected-version <n>]
                                        send a command, print its result; a command
                                        sent again with the --command-id of one that
                                        got no answer is stored at most once, and
                                        answered with its result
  cim query <domain> <Query> '<json>' [--min-position <seq>]
                                        send a query, print its answer; with
                                        --min-position (a command's streamSequence),
                                        once the read model holds that commit
  cim status                            which services answer, their versions and streams
  cim verify <domain> [--aggregate <id>] [--json]
                                        check hash chains and signed checkpoints; exit 0 only when clean
  cim audit <domain> <aggregateId>      who did what, when, to one aggregate

Finds the fleet through CIM_NATS_URL, or the URL \`npm start\` recorded in the data directory.`;

/** A flag's value: what it must look like, and what to say when it does not. */
interface FlagValue {
  readonly accepts: (value: string) => boolean;
  readonly takes: string;
}

const SEQUENCE: FlagValue = {
  accepts: (value) => /^\d+$/.test(value),
  takes: "a stream sequence (a command's streamSequence)",
};
const COMMAND_ID: FlagValue = {
  accepts: isUuid,
  takes: 'a lower-case UUID (the commandId of an earlier attempt)',
};
const VERSION: FlagValue = {
  accepts: (value) => /^[1-9]\d*$/.test(value),
  takes: "an aggregate version (a command result's version)",
};

async function main(argv: string[]): Promise<number> {
  const [verb, ...args] = argv;
  if (
    verb === undefined ||
    verb === '--help' ||
    verb === '-h' ||
    verb === 'help'
  ) {
    process.stdout.write(`${USAGE}\n`);
    return verb === undefined ? 2 : 0;
  }
  if (!['cmd', 'query', 'status', 'verify', 'audit'].includes(verb)) {
    throw new UsageError(`unknown verb ${JSON.stringify(verb)}\n${USAGE}`);
  }
  const { positional, flags } =
    verb === 'query'
      ? parseFlags(args, { '--min-position': SEQUENCE })
      : verb === 'cmd'
        ? parseFlags(args, {
            '--command-id': COMMAND_ID,
            '--expected-version': VERSION,
          })
        : { positional: args, flags: new Map<string, string>() };
  if (
    (verb === 'cmd' || verb === 'query') &&
    (positional.length < 2 || positional.length > 3)
  )
    throw new UsageError(USAGE);
  if (verb === 'audit' && args.length !== 2) throw new UsageError(USAGE);
  if (verb === 'verify' && args.length < 1) throw new UsageError(USAGE);
  const config = loadConfig();
  const nc = await connectNats({ url: config.natsUrl, name: 'cim-cli' });
  try {
    const [domain = '', name = '', json = '{}'] = positional;
    if (verb === 'verify') {
      const flags = parseVerifyFlags(args.slice(1));
      const report = await verify(
        nc,
        domain,
        flags.aggregate,
        jetStreamDomainOf(config.topology, domain),
      );
      process.stdout.write(
        `${flags.json ? JSON.stringify(report, null, 2) : formatReport(report)}\n`,
      );
      return report.clean ? 0 : 1;
    }
    if (verb === 'audit') {
      process.stdout.write(
        `${formatAudit(await auditTrail(nc, domain, name))}\n`,
      );
      return 0;
    }
    const out =
      verb === 'cmd'
        ? await sendCommand(nc, domain, name, json, {
            commandId: flags.get('--command-id'),
            expectedVersion: flags.get('--expected-version'),
          })
        : verb === 'query'
          ? await sendQuery(nc, domain, name, json, flags.get('--min-position'))
          : await status(nc, config.natsUrl, config.topology);
    process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
    return 0;
  } finally {
    await nc.close();
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    const { line, status: code } =
      error instanceof ConfigError
        ? { line: error.message, status: 2 }
        : describeError(error);
    process.stderr.write(`cim: ${line}\n`);
    process.exit(code);
  },
);

/** The arguments without the named flags, and the flags' values. */
function parseFlags(
  args: readonly string[],
  known: Readonly<Record<string, FlagValue>>,
): { positional: string[]; flags: Map<string, string> } {
  const positional: string[] = [];
  const flags = new Map<string, string>();
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    const value = Object.hasOwn(known, arg) ? known[arg] : undefined;
    if (value === undefined) {
      positional.push(arg);
      continue;
    }
    const given = args[++i];
    if (given === undefined || !value.accepts(given))
      throw new UsageError(`${arg} takes ${value.takes}\n${USAGE}`);
    flags.set(arg, given);
  }
  return { positional, flags };
}

function parseVerifyFlags(flags: readonly string[]): {
  aggregate: string | undefined;
  json: boolean;
} {
  let aggregate: string | undefined;
  let json = false;
  for (let i = 0; i < flags.length; i++) {
    if (flags[i] === '--json') json = true;
    else if (flags[i] === '--aggregate' && flags[i + 1] !== undefined)
      aggregate = flags[++i];
    else
      throw new UsageError(
        `unknown argument ${JSON.stringify(flags[i])}\n${USAGE}`,
      );
  }
  return { aggregate, json };
}
