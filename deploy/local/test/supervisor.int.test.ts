import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { eventually } from '@cim/testing';
import { Supervised } from '../src/supervisor.js';

describe('Supervised', () => {
  let dir: string;
  let supervised: Supervised | undefined;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cim-supervisor-'));
  });

  afterEach(async () => {
    await supervised?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('runs beforeRestart before each restart and reads the environment anew at every start', async () => {
    const logFile = join(dir, 'child.log');
    const said: string[] = [];
    let generation = 1;
    supervised = new Supervised(
      {
        name: 'child',
        command: process.execPath,
        // Prints what it was started with and exits at once, as a process that cannot bind its port does.
        args: ['-e', 'console.log(process.env.GENERATION); process.exit(3)'],
        env: () => ({ ...process.env, GENERATION: String(generation) }),
        ready: () => Promise.resolve(false),
        beforeRestart: () => {
          generation++;
          return Promise.resolve();
        },
        logFile,
      },
      (line) => said.push(line),
    );
    supervised.start();
    const lines = await eventually(
      async () => {
        const seen = (await readFile(logFile, 'utf8').catch(() => ''))
          .split('\n')
          .filter(Boolean);
        return seen.length >= 2 ? seen : undefined;
      },
      'two starts',
      15_000,
      50,
    );
    expect(lines.slice(0, 2)).toEqual(['1', '2']);
    expect(said[0]).toMatch(
      /^child stopped \(exit code 3\); restarting in 0\.5 s/,
    );
  });

  it('restarts even when beforeRestart fails, and says why', async () => {
    const logFile = join(dir, 'child.log');
    const said: string[] = [];
    supervised = new Supervised(
      {
        name: 'child',
        command: process.execPath,
        args: ['-e', 'console.log("started"); process.exit(3)'],
        ready: () => Promise.resolve(false),
        beforeRestart: () => Promise.reject(new Error('no port left')),
        logFile,
      },
      (line) => said.push(line),
    );
    supervised.start();
    await eventually(
      async () =>
        (await readFile(logFile, 'utf8').catch(() => '')).split('started')
          .length > 2
          ? true
          : undefined,
      'a restart',
      15_000,
      50,
    );
    expect(said).toContain('child: before restarting: no port left');
  });
});
