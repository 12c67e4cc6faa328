import { eventually } from '@cim/testing';
import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';

/**
 * Waits until the durable consumer has delivered and settled every message its
 * filter matches (checkpoints on the stream are outside it, so the stream's
 * last sequence is no measure).
 */
export async function drained(
  nc: NatsConnection,
  stream: string,
  consumer: string,
): Promise<void> {
  const jsm = await jetstreamManager(nc);
  await eventually(async () => {
    const info = await jsm.consumers
      .info(stream, consumer)
      .catch(() => undefined);
    return info !== undefined &&
      info.delivered.consumer_seq > 0 &&
      info.num_pending === 0 &&
      info.num_ack_pending === 0
      ? info
      : undefined;
  }, `${consumer} to settle every message of ${stream}`);
}

/** Commits on the graph stream (checkpoints left out: a restart may add some). */
export async function graphCommits(nc: NatsConnection): Promise<number> {
  const jsm = await jetstreamManager(nc);
  const info = await jsm.streams.info('CIM_GRAPH', {
    subjects_filter: 'cim.graph.evt.>',
  });
  return Object.values(info.state.subjects ?? {}).reduce(
    (sum, n) => sum + n,
    0,
  );
}

export { eventually };
