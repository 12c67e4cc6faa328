import { createLogger, startTracing } from '@cim/observability';
import { ConfigError, loadConfig } from './config.js';
import { join } from 'node:path';
import { keysDir, loadKeyring, loadMasterKey } from './keyring.js';
import type { ServiceDefinition } from './define-service.js';

/**
 * Node options a service process runs with (launchers pass them before the
 * entry script). A 32 MiB semi-space lets the short-lived garbage of each
 * command (decoded messages, encoded commits, replies) die young instead of
 * being scavenged many times: about 15% less CPU per command under load,
 * measured with AddNode. V8 grows the young generation only as far as a
 * process needs it, so an idle service stays small.
 */
export const SERVICE_NODE_OPTIONS: readonly string[] = [
  '--max-semi-space-size=32',
];

/**
 * The process entry of a service: reads and validates configuration from the
 * environment, starts tracing, the logger and the service, and turns SIGTERM
 * or SIGINT into a draining stop. A bad configuration or a failed start-up
 * exits non-zero with the reason.
 */
export async function runMain(definition: ServiceDefinition): Promise<void> {
  const service = `cim-${definition.domain}`;
  let config;
  try {
    config = loadConfig();
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`${service}: ${error.message}\n`);
    process.exit(2);
  }
  const log = createLogger({ service, level: config.logLevel });
  try {
    const tracing = await startTracing({
      service,
      exporter: config.traceExporter,
    });
    const keyring = loadKeyring({
      dir:
        process.env['CIM_KEYS_DIR'] ||
        keysDir(config.dataDir, definition.domain),
      env: process.env,
      onGenerated: (path) =>
        log.warn({ path }, 'generated a development signing key'),
    });
    const masterKey = loadMasterKey({
      dir: join(config.dataDir, 'keys'),
      env: process.env,
      onGenerated: (path) =>
        log.warn({ path }, 'generated a development vault master key'),
    });
    const running = await definition.start({
      keyring,
      masterKey,
      integrity: config.integrity,
      natsUrl: config.natsUrl,
      httpPort: config.httpPort,
      log,
      durability: config.durability,
      replicas: config.replicas,
      topology: config.topology,
      admission: config.admission,
    });
    const shutdown = (signal: string) => {
      log.info({ signal }, 'stopping');
      running
        .stop()
        .then(() => tracing.shutdown())
        .then(
          () => process.exit(0),
          (err: unknown) => {
            log.error({ err }, 'unclean stop');
            process.exit(1);
          },
        );
    };
    process.once('SIGTERM', shutdown);
    process.once('SIGINT', shutdown);
  } catch (err) {
    log.fatal({ err }, 'start-up failed');
    process.exit(1);
  }
}
