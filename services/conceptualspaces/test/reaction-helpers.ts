import { eventually } from '@cim/testing';
import type { JetStreamManager } from '@nats-io/jetstream';

/** Waits until the consumer has acknowledged every event of `domain`, and answers its state. */
export async function drained(
  jsm: JetStreamManager,
  domain: string,
  consumer: string,
) {
  const stream = `CIM_${domain.toUpperCase()}`;
  // Events only: checkpoints on cim.<domain>.chk are not delivered to reactions.
  const { state } = await jsm.streams.info(stream, {
    subjects_filter: `cim.${domain}.evt.>`,
  });
  const events = Object.values(state.subjects ?? {}).reduce(
    (sum, n) => sum + n,
    0,
  );
  return eventually(async () => {
    const info = await jsm.consumers
      .info(stream, consumer)
      .catch(() => undefined);
    return info !== undefined &&
      info.delivered.consumer_seq >= events &&
      info.num_pending === 0 &&
      info.num_ack_pending === 0
      ? info
      : undefined;
  }, `${consumer} to acknowledge ${events} events`);
}

export { eventually };
