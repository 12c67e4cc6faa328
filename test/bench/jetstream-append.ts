import { serverFeatures, streamConfig } from '@cim/eventstore';
import { eventSubject, streamName, uuidv7 } from '@cim/kernel';
import { jetstreamManager } from '@nats-io/jetstream';
import { headers, type Msg, type NatsConnection } from '@nats-io/nats-core';
import {
  PipelinedRequester,
  type PipelinedRequest,
} from './pipelined-requester.js';
import { cpuMeter } from './processes.js';
import { rate } from './stats.js';

/** How many raw appends to time, and with what. */
export interface AppendLimitOptions {
  /** Appends timed. */
  readonly count: number;
  /** Appends sent first, untimed, to warm up the client and the server. */
  readonly warmUp: number;
  /** Appends waiting for their ack at once. */
  readonly window: number;
  /** The commit bytes every append carries. */
  readonly payload: Uint8Array;
  /** The nats-server's process id, to measure its CPU time per append. */
  readonly serverPid: number;
}

/** What the raw appends reached, and what they cost. */
export interface AppendLimit {
  readonly perSecond: number;
  /** CPU microseconds per append in the nats-server; undefined where it cannot be read. */
  readonly serverCpuUs: number | undefined;
  /** CPU microseconds per append in this (the publishing) process. */
  readonly clientCpuUs: number | undefined;
}

/**
 * The most a single Node client gets out of JetStream for our kind of append:
 * one message per append to the `graph` domain's stream (created with the
 * event store's own config), each on its own subject, carrying a unique
 * `Nats-Msg-Id` and `Nats-Expected-Last-Subject-Sequence: 0`, pipelined under
 * one shared reply subscription. Resolves with appends per second and their
 * CPU cost; throws when an append was refused or the stream did not take
 * every message. Runs again on a stream that holds messages (its subjects are
 * new on every call), so alternating rounds can share one server.
 */
export async function measureAppendLimit(
  nc: NatsConnection,
  options: AppendLimitOptions,
): Promise<AppendLimit> {
  const jsm = await jetstreamManager(nc);
  const stream = streamName('graph');
  await jsm.streams.add(
    streamConfig({ domain: 'graph', replicas: 1 }, serverFeatures(nc)),
  );
  const requester = new PipelinedRequester(nc);
  try {
    const before = (await jsm.streams.info(stream)).state.messages;
    // Every subject is new, so that its expected last sequence is 0 in any round.
    const tag = uuidv7().slice(-12);
    let next = 0;
    const append = (): PipelinedRequest => {
      const h = headers();
      h.set('Nats-Msg-Id', uuidv7());
      h.set('Nats-Expected-Last-Subject-Sequence', '0');
      return {
        subject: eventSubject('graph', `append-${tag}-${next++}`),
        payload: options.payload,
        headers: h,
      };
    };
    const appendAll = async (count: number): Promise<number> => {
      const result = await requester.run({
        count,
        window: options.window,
        request: append,
        check: checkAck,
      });
      if (result.failures > 0) {
        throw new Error(
          `${result.failures} of ${count} raw appends failed; first: ${result.firstFailure}`,
        );
      }
      return rate(result.replies, result.seconds);
    };
    if (options.warmUp > 0) await appendAll(options.warmUp);
    const cpu = cpuMeter([options.serverPid, process.pid]);
    const perSecond = await appendAll(options.count);
    const [serverCpuUs, clientCpuUs] = cpu(options.count);
    const stored = (await jsm.streams.info(stream)).state.messages - before;
    if (stored !== next) {
      throw new Error(
        `the stream took ${stored} messages for ${next} acknowledged appends`,
      );
    }
    return { perSecond, serverCpuUs, clientCpuUs };
  } finally {
    requester.close();
  }
}

const decoder = new TextDecoder();

/** A JetStream publish ack is JSON `{"stream":…,"seq":…}`; a refusal carries `"error"` or a status. */
export function checkAck(reply: Msg): string | undefined {
  const code = reply.headers?.code ?? 0;
  if (code !== 0 && code !== 200)
    return `status ${code} ${reply.headers?.description ?? ''}`.trim();
  const text = decoder.decode(reply.data);
  return text.includes('"error"') ? text : undefined;
}
