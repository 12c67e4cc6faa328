import { createHash, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startNatsServer, type NatsServerHandle } from '@cim/testing';
import type { NatsConnection } from '@nats-io/nats-core';
import { Objm, type ObjectStore } from '@nats-io/obj';
import { connect } from '@nats-io/transport-node';
import {
  ContentStore,
  ContentUnavailableError,
  contentCid,
} from '../src/content-store.js';

/** Small chunks, so that a few KiB make an object of many pipelined chunks. */
const CHUNK = 1000;

async function readAll(objects: ObjectStore, name: string): Promise<Buffer> {
  const result = await objects.get(name);
  if (result === null) throw new Error(`${name} is not stored`);
  const parts: Uint8Array[] = [];
  const reader = result.data.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    parts.push(value);
  }
  // Rejects when the bytes read do not match the digest the metadata records.
  const error = await result.error;
  if (error) throw error;
  return Buffer.concat(parts);
}

describe('ContentStore', () => {
  let server: NatsServerHandle;
  let nc: NatsConnection;
  let bucketCount = 0;

  /** A content store on a bucket of its own, and the object store client's view of that bucket. */
  async function open(
    limits: { readonly max_bytes?: number } = {},
  ): Promise<{ store: ContentStore; objects: ObjectStore }> {
    const bucket = `content_test_${++bucketCount}`;
    const objects = await new Objm(nc).create(bucket, limits);
    const store = await ContentStore.open(nc, { bucket, chunkBytes: CHUNK });
    return { store, objects };
  }

  const messages = async (objects: ObjectStore) =>
    (await objects.status()).streamInfo.state.messages;

  beforeAll(async () => {
    server = await startNatsServer();
    nc = await connect({ servers: server.url });
  });

  afterAll(async () => {
    await nc.close();
    await server.stop();
  });

  it('writes an object the object store client reads back, named by its CID; reads a range of it', async () => {
    const { store, objects } = await open();
    const bytes = randomBytes(10 * CHUNK + 123);
    const put = await store.put(bytes);
    expect(put).toEqual({
      cid: contentCid(bytes),
      sizeBytes: BigInt(bytes.length),
      created: true,
    });
    const info = await objects.info(put.cid);
    expect(info).toMatchObject({
      name: put.cid,
      size: bytes.length,
      chunks: 11,
      deleted: false,
    });
    expect(info?.options?.max_chunk_size).toBe(CHUNK);
    // What the object store client records: base64, URL alphabet, padded.
    const digest = createHash('sha256').update(bytes).digest('base64');
    expect(info?.digest).toBe(
      `SHA-256=${digest.replace(/\+/g, '-').replace(/\//g, '_')}`,
    );
    expect(Buffer.compare(await readAll(objects, put.cid), bytes)).toBe(0);
    // 11 chunks and one metadata message.
    expect(await messages(objects)).toBe(12);
    expect(await store.stat(put.cid)).toEqual({
      present: true,
      sizeBytes: BigInt(bytes.length),
    });
    const range = await store.read(put.cid, 2 * CHUNK - 10, 30);
    expect(range?.data).toEqual(
      new Uint8Array(bytes.subarray(2 * CHUNK - 10, 2 * CHUNK + 20)),
    );
  });

  it('writes content of one chunk or less, and empty content, readably', async () => {
    const { store, objects } = await open();
    for (const bytes of [
      randomBytes(CHUNK),
      randomBytes(7),
      new Uint8Array(),
    ]) {
      const put = await store.put(bytes);
      expect(put.created).toBe(true);
      expect(await readAll(objects, put.cid)).toEqual(Buffer.from(bytes));
    }
  });

  it('stores the same bytes once: a second put writes nothing', async () => {
    const { store, objects } = await open();
    const bytes = randomBytes(5 * CHUNK);
    const first = await store.put(bytes);
    const revision = (await objects.info(first.cid))?.revision;
    const stored = await messages(objects);
    const second = await store.put(bytes);
    expect(second).toEqual({ ...first, created: false });
    expect((await objects.info(first.cid))?.revision).toBe(revision);
    expect(await messages(objects)).toBe(stored);
  });

  it('stores bytes put concurrently once', async () => {
    const { store, objects } = await open();
    const bytes = randomBytes(8 * CHUNK + 1);
    const puts = await Promise.all(
      Array.from({ length: 5 }, () => store.put(bytes)),
    );
    expect(puts.filter((p) => p.created)).toHaveLength(1);
    expect(new Set(puts.map((p) => p.cid))).toEqual(
      new Set([contentCid(bytes)]),
    );
    expect((await objects.list()).map((o) => o.name)).toEqual([
      contentCid(bytes),
    ]);
    // The winner's 9 chunks and its metadata; every other upload was purged.
    expect(await messages(objects)).toBe(10);
    expect(Buffer.compare(await readAll(objects, puts[0]!.cid), bytes)).toBe(0);
  });

  it('replaces other bytes found under the CID, and their chunks', async () => {
    const { store, objects } = await open();
    const bytes = randomBytes(3 * CHUNK);
    const cid = contentCid(bytes);
    await objects.putBlob(
      { name: cid, options: { max_chunk_size: CHUNK } },
      randomBytes(2 * CHUNK),
    );
    expect(await store.stat(cid)).toEqual({ present: false, sizeBytes: 0n });
    const put = await store.put(bytes);
    expect(put.created).toBe(true);
    expect(Buffer.compare(await readAll(objects, cid), bytes)).toBe(0);
    // 3 chunks and one metadata message: the other object's 2 chunks are gone.
    expect(await messages(objects)).toBe(4);
  });

  it('fails with UNAVAILABLE and leaves no chunk behind when the stream refuses one', async () => {
    const { store, objects } = await open({ max_bytes: 6 * CHUNK });
    const error = await store
      .put(randomBytes(12 * CHUNK))
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ContentUnavailableError);
    expect(await messages(objects)).toBe(0);
    // What fits is stored as usual afterwards.
    const small = randomBytes(2 * CHUNK);
    const put = await store.put(small);
    expect(Buffer.compare(await readAll(objects, put.cid), small)).toBe(0);
  });
});
