import { execFile } from 'node:child_process';
import { constants } from 'node:fs';
import {
  access,
  mkdir,
  readdir,
  readFile,
  rename,
  rm,
  writeFile,
} from 'node:fs/promises';
import { basename, delimiter, dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const MINIMUM_VERSION = '2.12.0';
const DEBIAN_KEYRING = '/usr/share/keyrings/debian-archive-keyring.gpg';
const DEBIAN_SOURCE = `deb [signed-by=${DEBIAN_KEYRING}] http://deb.debian.org/debian sid main`;
const INSTALL_HINT =
  'install nats-server 2.12+ (https://github.com/nats-io/nats-server/releases) and set CIM_NATS_SERVER=/path/to/nats-server';

/**
 * Finds the first `major.minor.patch` in a text such as `nats-server: v2.15.1`.
 * Returns `'2.15.1'`, or undefined when the text holds no version.
 * @param {string} text
 * @returns {string | undefined}
 */
export function parseVersion(text) {
  const match = /v?(\d+)\.(\d+)\.(\d+)/.exec(text);
  return match === null ? undefined : `${match[1]}.${match[2]}.${match[3]}`;
}

/**
 * True when dotted version `version` is the same as or newer than `minimum`; an unparsable version is never new enough.
 * @param {string | undefined} version
 * @param {string} minimum
 * @returns {boolean}
 */
export function versionAtLeast(version, minimum) {
  const have = parseVersion(version ?? '');
  const want = parseVersion(minimum);
  if (have === undefined || want === undefined) return false;
  const a = have.split('.').map(Number);
  const b = want.split('.').map(Number);
  for (let i = 0; i < 3; i += 1) {
    if (a[i] !== b[i]) return a[i] > b[i];
  }
  return true;
}

/**
 * Resolves a nats-server binary of version 2.12 or newer and records it in `.tools/nats-server.json`.
 * Order: `CIM_NATS_SERVER` (used as is, never recorded), the recorded result, a previously fetched
 * `.tools/nats-server`, `nats-server` on PATH, then a download of Debian sid's package with apt.
 * Returns `{ path, version }`; throws an Error that says what to install when none of these works.
 * @param {{ projectRoot?: string, log?: (line: string) => void }} [options]
 * @returns {Promise<{ path: string, version: string }>}
 */
export async function ensureNatsServer({
  projectRoot = defaultProjectRoot(),
  log = () => {},
} = {}) {
  const tools = join(projectRoot, '.tools');
  const recordFile = join(tools, 'nats-server.json');
  const fetched = join(tools, 'nats-server', 'usr', 'sbin', 'nats-server');

  const override = process.env.CIM_NATS_SERVER;
  if (override !== undefined && override !== '') {
    const version = await binaryVersion(override);
    if (version === undefined) {
      throw new Error(
        `CIM_NATS_SERVER=${override} does not run as nats-server; ${INSTALL_HINT}`,
      );
    }
    if (!versionAtLeast(version, MINIMUM_VERSION)) {
      log(
        `CIM_NATS_SERVER is nats-server ${version}; CIM needs ${MINIMUM_VERSION} or newer for atomic batches and sync_interval`,
      );
    }
    return { path: override, version };
  }

  const recorded = await readRecord(recordFile);
  if (recorded !== undefined) return recorded;

  const candidates = [fetched, await findOnPath('nats-server')];
  for (const candidate of candidates) {
    if (candidate === undefined || !(await isExecutable(candidate))) continue;
    const version = await binaryVersion(candidate);
    if (versionAtLeast(version, MINIMUM_VERSION)) {
      return record(recordFile, { path: candidate, version });
    }
    log(
      `ignoring ${candidate}: nats-server ${version ?? 'of unknown version'} is older than ${MINIMUM_VERSION}`,
    );
  }

  const aptGet = await findOnPath('apt-get');
  const dpkgDeb = await findOnPath('dpkg-deb');
  if (aptGet === undefined || dpkgDeb === undefined) {
    throw new Error(
      `no nats-server ${MINIMUM_VERSION}+ found and this is not a Debian-like system; ${INSTALL_HINT}`,
    );
  }
  if (!(await isReadable(DEBIAN_KEYRING))) {
    throw new Error(
      `no nats-server ${MINIMUM_VERSION}+ found and ${DEBIAN_KEYRING} is missing (apt-get install debian-archive-keyring); or ${INSTALL_HINT}`,
    );
  }
  log(
    `fetching nats-server from Debian sid into ${join(tools, 'nats-server')}`,
  );
  await fetchDebianPackage(tools, aptGet, dpkgDeb);
  const version = await binaryVersion(fetched);
  if (!versionAtLeast(version, MINIMUM_VERSION)) {
    throw new Error(
      `Debian sid provided nats-server ${version ?? 'of unknown version'}, older than ${MINIMUM_VERSION}; ${INSTALL_HINT}`,
    );
  }
  return record(recordFile, { path: fetched, version });
}

function defaultProjectRoot() {
  return resolve(dirname(fileURLToPath(import.meta.url)), '..');
}

async function readRecord(file) {
  let parsed;
  try {
    parsed = JSON.parse(await readFile(file, 'utf8'));
  } catch {
    // No record yet, or a damaged one: resolve again and overwrite it.
    return undefined;
  }
  const { path, version } = parsed ?? {};
  if (typeof path !== 'string' || !versionAtLeast(version, MINIMUM_VERSION))
    return undefined;
  return (await isExecutable(path)) ? { path, version } : undefined;
}

async function record(file, result) {
  await mkdir(dirname(file), { recursive: true });
  const partial = `${file}.${process.pid}`;
  await writeFile(partial, `${JSON.stringify(result, null, 2)}\n`);
  await rename(partial, file);
  return result;
}

async function fetchDebianPackage(tools, aptGet, dpkgDeb) {
  const apt = join(tools, 'apt');
  await rm(apt, { recursive: true, force: true });
  for (const dir of ['state/lists/partial', 'cache/archives/partial', 'etc']) {
    await mkdir(join(apt, dir), { recursive: true });
  }
  await writeFile(join(apt, 'state', 'status'), '');
  await writeFile(join(apt, 'etc', 'sources.list'), `${DEBIAN_SOURCE}\n`);
  // A private apt root: the system's sources, lists, cache and lock stay untouched.
  const options = [
    ['Dir::Etc::SourceList', join(apt, 'etc', 'sources.list')],
    ['Dir::Etc::SourceParts', '/nonexistent'],
    ['Dir::State', join(apt, 'state')],
    ['Dir::State::Lists', join(apt, 'state', 'lists')],
    ['Dir::State::status', join(apt, 'state', 'status')],
    ['Dir::Cache', join(apt, 'cache')],
    ['Debug::NoLocking', '1'],
    ['Acquire::Languages', 'none'],
    ...(process.getuid?.() === 0 ? [['APT::Sandbox::User', 'root']] : []),
  ].flatMap(([key, value]) => ['-o', `${key}=${value}`]);

  await run(aptGet, ['-q', ...options, 'update'], apt);
  await run(aptGet, ['-q', ...options, 'download', 'nats-server'], apt);
  const deb = (await readdir(apt)).find(
    (name) => name.startsWith('nats-server_') && name.endsWith('.deb'),
  );
  if (deb === undefined)
    throw new Error(
      `apt-get download left no nats-server package in ${apt}; ${INSTALL_HINT}`,
    );

  // Extract beside the target and rename, so a concurrent run never sees half a tree.
  const target = join(tools, 'nats-server');
  const partial = `${target}.${process.pid}`;
  await rm(partial, { recursive: true, force: true });
  await run(dpkgDeb, ['-x', join(apt, deb), partial], apt);
  await rm(target, { recursive: true, force: true });
  await rename(partial, target);
  await rm(apt, { recursive: true, force: true });
}

function run(file, args, cwd) {
  return new Promise((resolvePromise, reject) => {
    execFile(
      file,
      args,
      { cwd, maxBuffer: 64 * 1024 * 1024 },
      (error, _stdout, stderr) => {
        if (error === null) {
          resolvePromise();
          return;
        }
        const detail = String(stderr).trim().split('\n').slice(-20).join('\n');
        const status = error.signal ?? `exit code ${String(error.code)}`;
        reject(
          new Error(
            `${basename(file)} ${args.at(-1)} failed (${status}):\n${detail}\n${INSTALL_HINT}`,
            { cause: error },
          ),
        );
      },
    );
  });
}

function binaryVersion(file) {
  return new Promise((resolvePromise) => {
    execFile(
      file,
      ['--version'],
      { timeout: 10_000 },
      (error, stdout, stderr) => {
        resolvePromise(
          error === null ? parseVersion(`${stdout}${stderr}`) : undefined,
        );
      },
    );
  });
}

async function findOnPath(name) {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue;
    const candidate = join(dir, name);
    if (await isExecutable(candidate)) return candidate;
  }
  return undefined;
}

async function isExecutable(file) {
  try {
    await access(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

async function isReadable(file) {
  try {
    await access(file, constants.R_OK);
    return true;
  } catch {
    return false;
  }
}

if (
  process.argv[1] !== undefined &&
  import.meta.url === pathToFileURL(resolve(process.argv[1])).href
) {
  try {
    const result = await ensureNatsServer({
      log: (message) => console.error(`nats-server: ${message}`),
    });
    console.log(JSON.stringify(result));
  } catch (error) {
    console.error(error instanceof Error ? error.message : String(error));
    process.exitCode = 1;
  }
}
