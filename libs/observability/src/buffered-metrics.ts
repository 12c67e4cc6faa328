import {
  Counter,
  type LabelValues,
  type MetricObjectWithValues,
  type MetricValueWithName,
  type Registry,
} from 'prom-client';

/** A counter with its labels bound: one addition per increment. */
export interface CounterChild {
  inc(value?: number): void;
}

/** A histogram with its labels bound: a bucket search and three additions per observation. */
export interface HistogramChild {
  observe(value: number): void;
}

interface MetricConfig<L extends string> {
  readonly name: string;
  readonly help: string;
  readonly labelNames?: readonly L[];
  readonly registers: Registry[];
}

function labelsOf<L extends string>(
  names: readonly L[],
  values: readonly string[],
): LabelValues<L> {
  if (values.length !== names.length)
    throw new TypeError(
      `expected ${names.length} label values (${names.join(', ')}), got ${values.length}`,
    );
  const labels: Partial<Record<L, string>> = {};
  names.forEach((name, i) => (labels[name] = values[i]));
  return labels;
}

/**
 * A prom-client counter whose bound children only add to a number, folded
 * into the counter when it is read (a scrape). prom-client's own bound
 * counter hashes and validates its label object on every increment, which on
 * the command path cost more than the commit's hash.
 */
export class BufferedCounter<L extends string = string> {
  private readonly counter: Counter<L>;
  private readonly labelNames: readonly L[];
  /** One child per label set, by its values joined: binding again returns the same child. */
  private readonly children = new Map<
    string,
    {
      readonly labels: LabelValues<L>;
      pending: number;
      readonly bound: CounterChild;
    }
  >();

  constructor(config: MetricConfig<L>) {
    this.labelNames = config.labelNames ?? [];
    this.counter = new Counter<L>({
      name: config.name,
      help: config.help,
      labelNames: this.labelNames,
      registers: config.registers,
      collect: () => this.flush(),
    });
  }

  /** The counter for these label values, in the order of the label names. */
  labels(...values: string[]): CounterChild {
    const key = values.join('\u0000');
    let child = this.children.get(key);
    if (child === undefined) {
      const made = {
        labels: labelsOf(this.labelNames, values),
        pending: 0,
        bound: {
          inc: (value = 1) => {
            made.pending += value;
          },
        },
      };
      this.children.set(key, (child = made));
    }
    return child.bound;
  }

  /** Increments straight away, for label sets too rare to bind. */
  inc(labels: LabelValues<L>, value = 1): void {
    this.counter.inc(labels, value);
  }

  /** The counter's values, everything bound counted in. */
  get(): Promise<MetricObjectWithValues<MetricValueWithName<L>>> {
    return this.counter.get();
  }

  private flush(): void {
    for (const child of this.children.values()) {
      if (child.pending === 0) continue;
      this.counter.inc(child.labels, child.pending);
      child.pending = 0;
    }
  }
}

interface HistogramSeries<L extends string> {
  readonly labels: LabelValues<L>;
  /** Observations per bucket (not cumulative); the last slot is above every bound. */
  readonly counts: Float64Array;
  sum: number;
  count: number;
  /** What `labels()` hands out for this series, made once. */
  bound?: HistogramChild;
}

/**
 * A histogram registered with a prom-client registry and exposed exactly as
 * prom-client's (`_bucket` with `le`, `_sum`, `_count`), whose bound children
 * record an observation with a bucket search and three additions. prom-client's
 * own builds a closure, hashes and validates the label object on every
 * observation.
 */
export class BufferedHistogram<L extends string = string> {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  readonly name: string;
  readonly help: string;
  private readonly labelNames: readonly L[];
  private readonly bounds: readonly number[];
  /** One series per label set, by its values joined: binding again returns the same series. */
  private readonly series = new Map<string, HistogramSeries<L>>();
  /** The series without labels, for a histogram that has no label names. */
  private readonly unlabelled: HistogramSeries<L> | undefined;

  constructor(config: MetricConfig<L> & { readonly buckets: number[] }) {
    this.name = config.name;
    this.help = config.help;
    this.labelNames = config.labelNames ?? [];
    this.bounds = [...config.buckets].sort((a, b) => a - b);
    this.unlabelled =
      this.labelNames.length === 0 ? this.newSeries([]) : undefined;
    for (const registry of config.registers)
      registry.registerMetric(
        this as unknown as Parameters<Registry['registerMetric']>[0],
      );
  }

  /** The histogram for these label values, in the order of the label names. */
  labels(...values: string[]): HistogramChild {
    const series = this.newSeries(values);
    return (series.bound ??= {
      observe: (value) => this.record(series, value),
    });
  }

  /** Records one observation on the histogram without labels. */
  observe(value: number): void {
    if (this.unlabelled === undefined)
      throw new TypeError(`${this.name} has labels: bind them with labels()`);
    this.record(this.unlabelled, value);
  }

  /** Every series in prom-client's shape: cumulative buckets, +Inf, sum and count. */
  get(): Promise<MetricObjectWithValues<MetricValueWithName<string>>> {
    return Promise.resolve(this.snapshot(true));
  }

  /**
   * What the registry prints: as `get()`, with each series' own labels kept
   * apart from `le`, as prom-client's histogram hands them over, so that the
   * text lists the labels in the same order.
   */
  getForPromString(): Promise<
    MetricObjectWithValues<MetricValueWithName<string>>
  > {
    return Promise.resolve(this.snapshot(false));
  }

  private snapshot(
    merged: boolean,
  ): MetricObjectWithValues<MetricValueWithName<string>> {
    const values: MetricValueWithName<string>[] = [];
    const point = (
      suffix: string,
      own: Record<string, string | number>,
      labels: LabelValues<L>,
      value: number,
    ) =>
      values.push(
        (merged
          ? {
              metricName: `${this.name}${suffix}`,
              labels: { ...own, ...labels },
              value,
            }
          : {
              metricName: `${this.name}${suffix}`,
              labels: own,
              sharedLabels: labels,
              value,
            }) as MetricValueWithName<string>,
      );
    for (const s of this.series.values()) {
      if (s.count === 0 && s !== this.unlabelled) continue;
      let cumulative = 0;
      this.bounds.forEach((le, i) => {
        cumulative += s.counts[i]!;
        point('_bucket', { le }, s.labels, cumulative);
      });
      point('_bucket', { le: '+Inf' }, s.labels, s.count);
      point('_sum', {}, s.labels, s.sum);
      point('_count', {}, s.labels, s.count);
    }
    return {
      name: this.name,
      help: this.help,
      type: this.type,
      aggregator: this.aggregator,
      values,
    } as unknown as MetricObjectWithValues<MetricValueWithName<string>>;
  }

  /** Forgets every observation (the registry's resetMetrics). */
  reset(): void {
    for (const s of this.series.values()) {
      s.counts.fill(0);
      s.sum = 0;
      s.count = 0;
    }
  }

  /** The series of these label values, made on first use. */
  private newSeries(values: readonly string[]): HistogramSeries<L> {
    const key = values.join('\u0000');
    let series = this.series.get(key);
    if (series === undefined) {
      series = {
        labels: labelsOf(this.labelNames, values),
        counts: new Float64Array(this.bounds.length + 1),
        sum: 0,
        count: 0,
      };
      this.series.set(key, series);
    }
    return series;
  }

  private record(series: HistogramSeries<L>, value: number): void {
    if (!Number.isFinite(value)) return; // a broken clock reading is no latency
    const { bounds } = this;
    let i = 0;
    while (i < bounds.length && value > bounds[i]!) i++;
    series.counts[i]!++;
    series.sum += value;
    series.count++;
  }
}
