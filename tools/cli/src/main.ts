import { connectNats } from '@cim/messaging';
import { ConfigError, loadConfig } from '@cim/service';
import { describeError, sendCommand, sendQuery, status } from './commands.js';
import { UsageError } from './registry.js';

const USAGE = `usage:
  cim cmd <domain> <Command> '<json>'   send a command, print its result
  cim query <domain> <Query> '<json>'   send a query, print its answer
  cim status                            which services answer, their versions and streams

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
  if (!['cmd', 'query', 'status'].includes(verb))
    throw new UsageError(`unknown verb ${JSON.stringify(verb)}\n${USAGE}`);
  if (verb !== 'status' && (args.length < 2 || args.length > 3))
    throw new UsageError(USAGE);
  const config = loadConfig();
  const nc = await connectNats({ url: config.natsUrl, name: 'cim-cli' });
  try {
    const [domain = '', name = '', json = '{}'] = args;
    const out =
      verb === 'cmd'
        ? await sendCommand(nc, domain, name, json)
        : verb === 'query'
          ? await sendQuery(nc, domain, name, json)
          : await status(nc, config.natsUrl);
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
