import { checkpointSubject, eventWildcard, streamName } from '@cim/kernel';
import {
  DiscardPolicy,
  JetStreamApiError,
  RetentionPolicy,
  StorageType,
  type JetStreamManager,
  type StreamConfig,
  type StreamInfo,
} from '@nats-io/jetstream';
import { nanos } from '@nats-io/nats-core';
import type { ServerFeatures } from './server-features.js';

/** How a domain's stream is laid out. */
export interface StreamOptions {
  readonly domain: string;
  /** 1 on a single server; 3 on a cluster. */
  readonly replicas?: number;
  /** How long a command id is remembered for de-duplication, ms; default two minutes. */
  readonly duplicateWindowMs?: number;
  /** Largest commit in bytes; default: the server's max_payload. */
  readonly maxMessageBytes?: number;
}

/**
 * The stream config of a domain: file storage, every commit and checkpoint
 * kept forever, deletes and purges refused, direct gets on, atomic batches
 * allowed where the server has them (2.12+).
 */
export function streamConfig(
  options: StreamOptions,
  features: ServerFeatures,
): Partial<StreamConfig> & { name: string } {
  return {
    name: streamName(options.domain),
    subjects: [
      eventWildcard(options.domain),
      checkpointSubject(options.domain),
    ],
    storage: StorageType.File,
    retention: RetentionPolicy.Limits,
    discard: DiscardPolicy.New,
    num_replicas: options.replicas ?? 1,
    duplicate_window: nanos(options.duplicateWindowMs ?? 120_000),
    max_msg_size: options.maxMessageBytes ?? -1,
    allow_direct: true,
    deny_delete: true,
    deny_purge: true,
    ...(features.atomicBatch ? { allow_atomic: true } : {}),
  };
}

/** Creates the domain's stream, or brings an existing one to the expected config. */
export async function ensureStream(
  jsm: JetStreamManager,
  options: StreamOptions,
  features: ServerFeatures,
): Promise<StreamInfo> {
  const config = streamConfig(options, features);
  try {
    const info = await jsm.streams.info(config.name);
    const { name, ...update } = config;
    return await jsm.streams.update(name, { ...info.config, ...update });
  } catch (error) {
    if (!(error instanceof JetStreamApiError) || error.code !== 10059)
      throw error; // 10059: stream not found
  }
  return await jsm.streams.add(config);
}
