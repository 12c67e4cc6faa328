import { describe, expect, it } from '@jest/globals';
import { BufferedCounter, BufferedHistogram } from '@cim/observability';
import { Counter, Histogram, Registry } from 'prom-client';

const BUCKETS = [0.001, 0.01, 0.1, 1];

/** One registry with the service label, as createMetrics makes it. */
function registry(): Registry {
  const r = new Registry();
  r.setDefaultLabels({ service: 'cim-test' });
  return r;
}

describe('BufferedHistogram', () => {
  it('exposes exactly what a prom-client histogram exposes for the same observations', async () => {
    const ours = registry();
    const theirs = registry();
    const buffered = new BufferedHistogram({
      name: 'cim_test_seconds',
      help: 'Test latencies',
      labelNames: ['command'],
      buckets: BUCKETS,
      registers: [ours],
    });
    const reference = new Histogram({
      name: 'cim_test_seconds',
      help: 'Test latencies',
      labelNames: ['command'],
      buckets: BUCKETS,
      registers: [theirs],
    });
    const observations: [string, number][] = [
      ['AddNode', 0.0004],
      ['AddNode', 0.001], // on a bound: counted in that bucket
      ['AddNode', 0.05],
      ['AddNode', 3], // above every bound: only +Inf
      ['CreateGraph', 0.2],
    ];
    const bound = new Map<string, ReturnType<typeof buffered.labels>>();
    for (const [command, seconds] of observations) {
      if (!bound.has(command)) bound.set(command, buffered.labels(command));
      bound.get(command)!.observe(seconds);
      reference.labels(command).observe(seconds);
    }
    expect(await ours.metrics()).toBe(await theirs.metrics());
  });

  it('exposes a histogram without labels from the start, and keeps one series per label set', async () => {
    const ours = registry();
    const theirs = registry();
    const buffered = new BufferedHistogram({
      name: 'cim_append_seconds',
      help: 'Appends',
      buckets: BUCKETS,
      registers: [ours],
    });
    const reference = new Histogram({
      name: 'cim_append_seconds',
      help: 'Appends',
      buckets: BUCKETS,
      registers: [theirs],
    });
    expect(await ours.metrics()).toBe(await theirs.metrics());
    buffered.observe(0.02);
    reference.observe(0.02);
    buffered.observe(Number.NaN); // dropped, never a NaN sum
    expect(await ours.metrics()).toBe(await theirs.metrics());

    const labelled = new BufferedHistogram({
      name: 'cim_q_seconds',
      help: 'Queries',
      labelNames: ['query'],
      buckets: BUCKETS,
      registers: [ours],
    });
    labelled.labels('GraphInfo').observe(0.002);
    labelled.labels('GraphInfo').observe(0.5);
    expect(labelled.labels('GraphInfo')).toBe(labelled.labels('GraphInfo'));
    const text = await ours.metrics();
    expect(text).toContain(
      'cim_q_seconds_count{service="cim-test",query="GraphInfo"} 2',
    );
    expect(text).toContain(
      'cim_q_seconds_bucket{le="0.01",service="cim-test",query="GraphInfo"} 1',
    );
    labelled.reset();
    expect(await ours.metrics()).not.toContain('query="GraphInfo"');
  });

  it('refuses the wrong number of label values and an unlabelled observe on a labelled histogram', () => {
    const h = new BufferedHistogram({
      name: 'cim_x_seconds',
      help: 'x',
      labelNames: ['command'],
      buckets: BUCKETS,
      registers: [registry()],
    });
    expect(() => h.labels()).toThrow(/expected 1 label values/);
    expect(() => h.observe(1)).toThrow(/has labels/);
  });
});

describe('BufferedCounter', () => {
  it('counts bound increments when read, like a prom-client counter', async () => {
    const ours = registry();
    const theirs = registry();
    const buffered = new BufferedCounter({
      name: 'cim_test_total',
      help: 'Tests',
      labelNames: ['command', 'outcome'],
      registers: [ours],
    });
    const reference = new Counter({
      name: 'cim_test_total',
      help: 'Tests',
      labelNames: ['command', 'outcome'],
      registers: [theirs],
    });
    const accepted = buffered.labels('AddNode', 'accepted');
    // Bound again (as a second route might): the same counter, not a second series.
    expect(buffered.labels('AddNode', 'accepted')).toBe(accepted);
    for (let i = 0; i < 1000; i++) accepted.inc();
    accepted.inc(5);
    buffered.inc({ command: 'AddNode', outcome: 'NOT_FOUND' });
    reference.inc({ command: 'AddNode', outcome: 'accepted' }, 1005);
    reference.inc({ command: 'AddNode', outcome: 'NOT_FOUND' });
    // Bound increments are folded in when read, so series may come in another order.
    const lines = async (r: Registry) => (await r.metrics()).split('\n').sort();
    expect(await lines(ours)).toEqual(await lines(theirs));
    // Read twice: nothing counted again.
    expect(await lines(ours)).toEqual(await lines(theirs));
    accepted.inc();
    reference.inc({ command: 'AddNode', outcome: 'accepted' });
    const { values } = await buffered.get();
    expect(values.find((v) => v.labels.outcome === 'accepted')?.value).toBe(
      1006,
    );
  });
});
