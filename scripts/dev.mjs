#!/usr/bin/env node
// The one entry behind the root npm scripts. It runs on a fresh clone with
// only Node and npm: it installs dependencies with the pinned pnpm, builds,
// finds (or fetches) a current nats-server, and then does what was asked.
import { spawn, spawnSync } from 'node:child_process';
import {
  existsSync,
  readFileSync,
  statSync,
  writeFileSync,
  readdirSync,
  mkdtempSync,
  rmSync,
} from 'node:fs';
import { join, dirname } from 'node:path';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { ensureNatsServer } from './nats-server.mjs';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const pnpmSpec = pkg.packageManager; // pnpm@<version>, run through npx: corepack cannot verify it here
const bin = (name) => join(root, 'node_modules', '.bin', name);
const log = (line) => process.stderr.write(`${line}\n`);

function run(command, args, options = {}) {
  const result = spawnSync(command, args, {
    cwd: root,
    stdio: 'inherit',
    ...options,
  });
  if (result.error) throw result.error;
  return result.status ?? 1;
}

function must(command, args, options) {
  const status = run(command, args, options);
  if (status !== 0) process.exit(status);
}

function pnpm(args) {
  must('npx', ['--yes', pnpmSpec, ...args]);
}

/** Installs when node_modules is missing or older than the lockfile. */
function ensureInstalled() {
  const marker = join(root, 'node_modules', '.cim-installed');
  const lock = join(root, 'pnpm-lock.yaml');
  if (existsSync(marker) && statSync(marker).mtimeMs >= statSync(lock).mtimeMs)
    return;
  log(`installing dependencies with ${pnpmSpec}`);
  pnpm(['install', '--frozen-lockfile', '--reporter=silent']);
  writeFileSync(marker, new Date().toISOString());
}

function build() {
  must(bin('tsc'), ['-b']);
}

/** Type-checks every package's sources and tests (tsconfig.json: src + test, no emit). */
function typecheck() {
  for (const dir of packageDirs()) {
    if (existsSync(join(root, dir, 'tsconfig.json')))
      must(bin('tsc'), ['-p', join(dir, 'tsconfig.json')]);
  }
}

function packageDirs() {
  const dirs = [];
  for (const group of ['libs', 'services', 'tools']) {
    for (const name of readdirSync(join(root, group)))
      dirs.push(join(group, name));
  }
  return [...dirs, 'deploy/nats', 'deploy/local', 'test'];
}

async function natsEnv() {
  const server = await ensureNatsServer({ projectRoot: root, log });
  return { ...process.env, CIM_NATS_SERVER: server.path };
}

function exec(command, args, env) {
  // Signals reach the child through the process group; its exit code is ours.
  const child = spawn(command, args, { cwd: root, stdio: 'inherit', env });
  const forward = (signal) => child.kill(signal);
  process.on('SIGINT', forward);
  process.on('SIGTERM', forward);
  child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
}

function generate() {
  const env = {
    ...process.env,
    PATH: `${join(root, 'libs/proto/node_modules/.bin')}:${process.env.PATH}`,
  };
  must('buf', ['generate'], { cwd: join(root, 'proto'), env });
}

const [command = 'help', ...rest] = process.argv.slice(2);
switch (command) {
  case 'install':
    ensureInstalled();
    break;
  case 'build':
    ensureInstalled();
    build();
    break;
  case 'start': {
    ensureInstalled();
    build();
    exec(
      process.execPath,
      [join(root, 'deploy/local/dist/main.js'), ...rest],
      await natsEnv(),
    );
    break;
  }
  case 'test': {
    ensureInstalled();
    build();
    typecheck();
    const env = await natsEnv();
    exec(
      process.execPath,
      [
        '--experimental-vm-modules',
        '--no-warnings=ExperimentalWarning',
        bin('jest').replace(/\.bin\/jest$/, 'jest/bin/jest.js'),
        ...rest,
      ],
      env,
    );
    break;
  }
  case 'bench': {
    ensureInstalled();
    build();
    exec(
      process.execPath,
      [join(root, 'test/dist/bench/run.js'), ...rest],
      await natsEnv(),
    );
    break;
  }
  case 'lint':
    ensureInstalled();
    build();
    must(bin('eslint'), ['--max-warnings', '0', '.']);
    must(bin('prettier'), ['--check', '--log-level', 'warn', '.']);
    break;
  case 'generate':
    ensureInstalled();
    generate();
    break;
  case 'proto:check': {
    // Regenerates into a scratch copy and compares it with the committed code.
    ensureInstalled();
    must(join(root, 'libs/proto/node_modules/.bin/buf'), ['lint'], {
      cwd: join(root, 'proto'),
    });
    const scratch = mkdtempSync(join(tmpdir(), 'cim-proto-'));
    try {
      const env = {
        ...process.env,
        PATH: `${join(root, 'libs/proto/node_modules/.bin')}:${process.env.PATH}`,
      };
      const template = readFileSync(
        join(root, 'proto/buf.gen.yaml'),
        'utf8',
      ).replace('out: ../libs/proto/src/gen', `out: ${join(scratch, 'gen')}`);
      must('buf', ['generate', '--template', template], {
        cwd: join(root, 'proto'),
        env,
      });
      const status = run('diff', [
        '-r',
        join(scratch, 'gen'),
        join(root, 'libs/proto/src/gen'),
      ]);
      if (status !== 0) {
        log(
          'libs/proto/src/gen is stale: run `npm run generate` and commit the result',
        );
        process.exit(1);
      }
      log('generated code is up to date');
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
    break;
  }
  case 'cim':
    ensureInstalled();
    build();
    exec(
      process.execPath,
      [join(root, 'tools/cli/bin/cim.js'), ...rest],
      await natsEnv(),
    );
    break;
  default:
    log(
      'usage: node scripts/dev.mjs install|build|start|test|bench|lint|generate|proto:check|cim [args]',
    );
    process.exit(command === 'help' ? 0 : 2);
}
