/** One line of benchmark output, printed as one JSON object on stdout. */
export interface BenchLine {
  readonly name: string;
  readonly value: number;
  readonly unit: string;
  /** What `value` is compared with; 0 when the line has no baseline. */
  readonly baseline: number;
  /** `value / baseline`; 0 when the line has no baseline. */
  readonly ratio: number;
  /** A bound on `ratio` such as `>=0.3` or `<=1.5`; empty when the line is informational. */
  readonly target: string;
}

/** What every benchmark receives from the runner. */
export interface BenchOptions {
  /** Smaller counts, for a smoke test in seconds rather than a measurement. */
  readonly quick: boolean;
  /** Extra Node arguments for the service child processes, e.g. `--cpu-prof`. */
  readonly childNodeArgs: readonly string[];
  /** Progress notes for people; stdout carries only result lines. */
  readonly note: (text: string) => void;
}

/** A benchmark: a name for `--only` and a run that returns its result lines. */
export interface Benchmark {
  readonly name: string;
  run(options: BenchOptions): Promise<readonly BenchLine[]>;
}

/** A result line compared with a baseline under a target such as `>=0.3`. */
export function compared(
  name: string,
  value: number,
  unit: string,
  baseline: number,
  target: string,
): BenchLine {
  return {
    name,
    value: round(value),
    unit,
    baseline: round(baseline),
    ratio: baseline === 0 ? 0 : round(value / baseline),
    target,
  };
}

/** A result line reported for information, with no baseline and no target. */
export function informational(
  name: string,
  value: number,
  unit: string,
): BenchLine {
  return { name, value: round(value), unit, baseline: 0, ratio: 0, target: '' };
}

/** CPU cost lines, `<prefix>-<what>` in µs per `per`; a figure that could not be read is left out. */
export function cpuLines(
  prefix: string,
  per: string,
  figures: Readonly<Record<string, number | undefined>>,
): BenchLine[] {
  return Object.entries(figures).flatMap(([what, us]) =>
    us === undefined
      ? []
      : [informational(`${prefix}-${what}`, us, `us/${per}`)],
  );
}

/** Whether a line meets its target; undefined for an informational line. */
export function meetsTarget(line: BenchLine): boolean | undefined {
  const match = /^(>=|<=)\s*(-?\d+(?:\.\d+)?)$/.exec(line.target.trim());
  if (match === null) return undefined;
  const bound = Number(match[2]);
  return match[1] === '>=' ? line.ratio >= bound : line.ratio <= bound;
}

/**
 * Undo actions run in reverse order, so that a benchmark releases its
 * processes and connections whether it finished or threw.
 */
export class Cleanup {
  readonly #actions: Array<() => unknown> = [];

  /** Registers an action; returns its argument for chaining. */
  add<T>(value: T, action: (value: T) => unknown): T {
    this.#actions.push(() => action(value));
    return value;
  }

  /** Runs every action, newest first; one that fails does not stop the others. */
  async run(): Promise<void> {
    const failures: unknown[] = [];
    for (const action of this.#actions.splice(0).reverse()) {
      try {
        await action();
      } catch (error) {
        failures.push(error);
      }
    }
    if (failures.length > 0)
      throw new AggregateError(failures, 'benchmark clean-up failed');
  }
}

// Four significant digits are more than the run-to-run noise of these measurements.
function round(value: number): number {
  return Number.isFinite(value) ? Number(value.toPrecision(4)) : value;
}
