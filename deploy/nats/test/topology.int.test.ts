import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { natsServerBinary } from '@cim/testing';
import { TOPOLOGY_KINDS, planTopology, renderConfig } from '../src/topology.js';

const run = promisify(execFile);
// The server every other test runs: CIM_NATS_SERVER, else the one the set-up fetched, else PATH's.
const binary = natsServerBinary();

describe('every rendered configuration is one nats-server accepts', () => {
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cim-nats-config-'));
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it.each(TOPOLOGY_KINDS)('%s', async (kind) => {
    let next = 7000;
    const plan = await planTopology({
      kind,
      domains: ['graph', 'workflow'],
      storeRoot: join(dir, kind),
      port: () => Promise.resolve(next++),
    });
    for (const server of plan.servers) {
      const file = join(dir, `${kind}-${server.name}.conf`);
      await writeFile(file, renderConfig(server, { syncAlways: true }));
      // -t: parse and check the configuration, then exit.
      const { stdout, stderr } = await run(binary, ['-t', '-c', file]);
      expect(`${stdout}${stderr}`).toMatch(/is valid/);
    }
  });
});
