import { describe, expect, it } from '@jest/globals';
import { Registry } from 'prom-client';
import { stateMetrics, type StateSources } from '../src/state-metrics.js';

/** The value of one sample line of `name` (with `labels` as written) in the exposition text. */
function sample(text: string, name: string, labels = ''): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels} `));
  return line === undefined ? undefined : Number(line.split(' ')[1]);
}

describe('stateMetrics', () => {
  function scraped(overrides: Partial<StateSources> = {}) {
    const registry = new Registry();
    const state = {
      position: 90,
      last: 100 as number | Error,
      asked: 0,
      pending: [
        { name: 'graph-concepts', pending: 7 as number | undefined },
        { name: 'node-concepts', pending: undefined },
      ],
    };
    const metrics = stateMetrics(registry, {
      position: () => state.position,
      stream: () => {
        state.asked++;
        return state.last instanceof Error
          ? Promise.reject(state.last)
          : Promise.resolve({
              lastSequence: state.last,
              messages: state.last - 2,
              bytes: state.last * 500,
            });
      },
      failingAppends: () => 12.5,
      cache: () => ({ entries: 3, bytes: 4096 }),
      requests: () => ({ requests: 12, bytes: 3000 }),
      reactions: () => Promise.resolve(state.pending),
      ...overrides,
    });
    return { registry, state, metrics };
  }

  it('reads the requests in flight, the read model, the cache and the reactions when scraped', async () => {
    const { registry, state } = scraped();
    let text = await registry.metrics();
    expect(sample(text, 'cim_requests_in_flight')).toBe(12);
    expect(sample(text, 'cim_request_bytes_in_flight')).toBe(3000);
    expect(sample(text, 'cim_read_model_position')).toBe(90);
    expect(sample(text, 'cim_read_model_lag')).toBe(10);
    expect(sample(text, 'cim_stream_messages')).toBe(98);
    expect(sample(text, 'cim_stream_bytes')).toBe(50_000);
    // The stream's three gauges asked the server once.
    expect(state.asked).toBe(1);
    expect(sample(text, 'cim_appends_failing_seconds')).toBe(12.5);
    expect(sample(text, 'cim_aggregate_cache_entries')).toBe(3);
    expect(sample(text, 'cim_aggregate_cache_bytes')).toBe(4096);
    expect(
      sample(text, 'cim_reaction_pending', '{reaction="graph-concepts"}'),
    ).toBe(7);
    // A reaction that is not consuming has no sample rather than a made-up one.
    expect(text).not.toContain('reaction="node-concepts"');

    state.position = 100;
    state.last = 120;
    text = await registry.metrics();
    expect(sample(text, 'cim_read_model_lag')).toBe(20);
    expect(sample(text, 'cim_stream_bytes')).toBe(60_000);
    expect(state.asked).toBe(2);
  });

  it('keeps the last lag and stream size when the stream cannot be asked', async () => {
    const { registry, state } = scraped();
    await registry.metrics();
    state.last = new Error('no responders');
    state.position = 95;
    const text = await registry.metrics();
    expect(sample(text, 'cim_read_model_lag')).toBe(10);
    expect(sample(text, 'cim_stream_bytes')).toBe(50_000);
    expect(sample(text, 'cim_read_model_position')).toBe(95);
  });

  it('counts the commits of each batch', async () => {
    const { registry, metrics } = scraped();
    for (const size of [1, 64, 64, 3]) metrics.batchSize(size);
    const text = await registry.metrics();
    expect(sample(text, 'cim_append_batch_size_count')).toBe(4);
    expect(sample(text, 'cim_append_batch_size_sum')).toBe(132);
    expect(sample(text, 'cim_append_batch_size_bucket', '{le="1"}')).toBe(1);
    // Buckets count cumulatively: 1 and 3 lie below 32, all four below 64.
    expect(sample(text, 'cim_append_batch_size_bucket', '{le="32"}')).toBe(2);
    expect(sample(text, 'cim_append_batch_size_bucket', '{le="64"}')).toBe(4);
  });
});
