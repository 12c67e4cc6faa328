import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { get } from 'node:http';

/** One process the supervisor keeps running. */
export interface ProcessSpec {
  readonly name: string;
  /** The executable and its arguments. */
  readonly command: string;
  readonly args: readonly string[];
  /** Read at every start, so that a restart can run with changed settings. */
  readonly env?: NodeJS.ProcessEnv | (() => NodeJS.ProcessEnv);
  readonly logFile: string;
  /** Whether the process serves yet: e.g. its /readyz answers 200. */
  readonly ready: () => Promise<boolean>;
  /** Runs before each restart (not the first start), e.g. to move off a port another process took. */
  readonly beforeRestart?: () => Promise<void>;
}

const MAX_BACKOFF_MS = 30_000;
/** A process that stayed up this long is healthy again: its next crash restarts it at once. */
const STABLE_MS = 60_000;

/**
 * Runs one process, restarts it with exponential back-off when it exits
 * on its own, and stops it with SIGTERM (SIGKILL after a bound) when asked.
 */
export class Supervised {
  private child: ChildProcess | undefined;
  private stopping = false;
  private backoffMs = 500;
  private startedAt = 0;
  private restartTimer: NodeJS.Timeout | undefined;

  constructor(
    readonly spec: ProcessSpec,
    private readonly say: (line: string) => void,
  ) {}

  get pid(): number | undefined {
    return this.child?.pid;
  }

  start(): void {
    const fd = openSync(this.spec.logFile, 'a');
    const { env } = this.spec;
    const child = spawn(this.spec.command, this.spec.args, {
      env: typeof env === 'function' ? env() : (env ?? process.env),
      stdio: ['ignore', fd, fd],
    });
    closeSync(fd);
    this.child = child;
    this.startedAt = Date.now();
    child.once('exit', (code, signal) => {
      if (this.stopping) return;
      if (Date.now() - this.startedAt > STABLE_MS) this.backoffMs = 500;
      const why = signal === null ? `exit code ${code}` : `signal ${signal}`;
      this.say(
        `${this.spec.name} stopped (${why}); restarting in ${(this.backoffMs / 1000).toFixed(1)} s — log: ${this.spec.logFile}`,
      );
      this.restartTimer = setTimeout(() => void this.restart(), this.backoffMs);
      this.backoffMs = Math.min(this.backoffMs * 2, MAX_BACKOFF_MS);
    });
  }

  private async restart(): Promise<void> {
    try {
      await this.spec.beforeRestart?.();
    } catch (error) {
      this.say(
        `${this.spec.name}: before restarting: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
    if (!this.stopping) this.start();
  }

  /** Resolves once the process is ready, or rejects after `timeoutMs`. */
  async waitReady(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (await this.spec.ready()) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(
      `${this.spec.name} was not ready within ${timeoutMs / 1000} s; see ${this.spec.logFile}`,
    );
  }

  /** From now on an exit is expected: it is not restarted. */
  expectExit(): void {
    this.stopping = true;
    clearTimeout(this.restartTimer);
  }

  async stop(): Promise<void> {
    this.expectExit();
    const child = this.child;
    if (
      child === undefined ||
      child.exitCode !== null ||
      child.signalCode !== null
    )
      return;
    const exited = new Promise<void>((resolve) =>
      child.once('exit', () => resolve()),
    );
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    await exited;
    clearTimeout(timer);
  }
}

/** Whether `http://127.0.0.1:<port>/readyz` answers 200. */
export function readyz(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = get(
      { host: '127.0.0.1', port, path: '/readyz', timeout: 1000 },
      (res) => {
        res.resume();
        resolve(res.statusCode === 200);
      },
    );
    req.once('error', () => resolve(false));
    req.once('timeout', () => {
      req.destroy();
      resolve(false);
    });
  });
}
