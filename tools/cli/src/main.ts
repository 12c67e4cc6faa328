import { connectNats } from '@cim/messaging';
import { ConfigError, jetStreamDomainOf, loadConfig } from '@cim/service';
import { describeError, sendCommand, sendQuery, status } from './commands.js';
import { UsageError } from './registry.js';
import { auditTrail, formatAudit, formatReport, verify } from './audit.js';

const USAGE = `usage:
  cim cmd <domain> <Command> '<json>'   send a command, print its result
  cim query <domain> <Query> '<json>' [--min-position <seq>]
                                        send a query, print its answer; with
                                        --min-position (a command's streamSequence),
                                        once the read model holds that commit
  cim status                            which services answer, their versions and streams
  cim verify <domain> [--aggregate <id>] [--json]
                                        check hash chains and signed checkpoints; exit 0 only when clean
  cim audit <domain> <aggregateId>      who did what, when, to one aggregate

Finds the fleet through CIM_NATS_URL, or the URL \`npm start\` recorded in the data directory.`;

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
  const { positional, minPosition } =
    verb === 'query'
      ? parseQueryFlags(args)
      : { positional: args, minPosition: undefined };
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
        ? await sendCommand(nc, domain, name, json)
        : verb === 'query'
          ? await sendQuery(nc, domain, name, json, minPosition)
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

/** `cim query`'s arguments without `--min-position <seq>`, and that sequence. */
function parseQueryFlags(args: readonly string[]): {
  positional: string[];
  minPosition: string | undefined;
} {
  const positional: string[] = [];
  let minPosition: string | undefined;
  for (let i = 0; i < args.length; i++) {
    if (args[i] !== '--min-position') {
      positional.push(args[i]!);
      continue;
    }
    minPosition = args[++i];
    if (minPosition === undefined || !/^\d+$/.test(minPosition))
      throw new UsageError(
        `--min-position takes a stream sequence (a command's streamSequence)\n${USAGE}`,
      );
  }
  return { positional, minPosition };
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
