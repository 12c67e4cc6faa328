import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { create, toBinary } from '@bufbuild/protobuf';
import { CHUNK_BYTES, ContentStore } from '@cim/document';
import { methodSubject, streamName, uuidv7 } from '@cim/kernel';
import { Header, isErrorReply } from '@cim/messaging';
import {
  CreateDocumentFromCidSchema,
  DocumentCommandService,
  IngestDocumentContentSchema,
} from '@cim/proto/cim/document/v1/document_pb';
import { jetstreamManager } from '@nats-io/jetstream';
import { headers, type Msg, type NatsConnection } from '@nats-io/nats-core';
import { Objm, StorageType, setSha256Backend } from '@nats-io/obj';
import { connect } from '@nats-io/transport-node';
import {
  Cleanup,
  compared,
  informational,
  type Benchmark,
} from './benchmark.js';
import { freePort, startNatsServer } from './nats-harness.js';
import { PipelinedRequester, mustSucceed } from './pipelined-requester.js';
import { CpuTotals, startChild, waitForResponder } from './processes.js';
import { summarize } from './stats.js';

const MIB = 1024 * 1024;
/** Requests (or puts) in flight. */
const WINDOW = 4;
/** Offset of the put-then-create side's content indexes, so its bytes differ from the other sides'. */
const OTHER_SIDE = 1_000_000;
/** The same for the thin responder's side. */
const THIN_SIDE = 2_000_000;
/** The subject the thin ingest responder takes requests on. */
const THIN_SUBJECT = 'cim.bench.cmd.Ingest';

const FULL = { warmUp: 16, rounds: 8, perRound: 20 };
const QUICK = { warmUp: 4, rounds: 3, perRound: 8 };

/**
 * Content ingest of 1 MiB: IngestDocumentContent over NATS to the document
 * service in its own process (which hashes, stores the bytes in the object
 * store under their CID and commits the document), against plain object
 * store puts of the same bytes on the same server, 4 in flight each. Every
 * request carries different bytes (a counter over a random MiB), so no put
 * is skipped as already stored. For information, also the other way in: the
 * client puts the bytes under their CID itself, then sends
 * CreateDocumentFromCid; and the floor of the first way: a responder in its
 * own process that only puts the bytes it is sent into the same content
 * store, with no command. The server allows 8 MB messages. The sides
 * alternate in rounds, so that load from elsewhere on the machine weighs on
 * all of them alike.
 */
export const documentIngest: Benchmark = {
  name: 'document-ingest',
  async run({ quick, childNodeArgs, note }) {
    const counts = quick ? QUICK : FULL;
    const base = randomBytes(MIB);
    // Index-stamped copies: distinct content per request, the same bytes for both sides.
    const content = (index: number): Uint8Array => {
      const bytes = Uint8Array.from(base);
      new DataView(bytes.buffer).setFloat64(0, index);
      return bytes;
    };
    const cleanup = new Cleanup();
    try {
      // 1. One server for both sides, with room for 1 MiB requests.
      const server = cleanup.add(
        await startNatsServer({ config: 'max_payload: 8MB' }),
        (s) => s.stop(),
      );
      const nc = cleanup.add(await connect({ servers: server.url }), (c) =>
        c.close(),
      );

      // 2. The service, in a child process.
      const httpPort = await freePort();
      const service = cleanup.add(
        await startChild({
          name: 'document service',
          entry: 'services/document/dist/main.js',
          env: {
            CIM_NATS_URL: server.url,
            CIM_HTTP_PORT: String(httpPort),
            CIM_DURABILITY: 'fast',
            LOG_LEVEL: 'warn',
          },
          httpPort,
          nodeArgs: childNodeArgs,
        }),
        (child) => child.stop(),
      );
      await waitForResponder(nc, '$SRV.PING.cim-document');

      // 3. The three sides. IngestDocumentContent, pipelined:
      const requester = cleanup.add(new PipelinedRequester(nc), (r) =>
        r.close(),
      );
      const subject = methodSubject(
        DocumentCommandService.method.ingestDocumentContent,
      );
      const ingest = (bytes: Uint8Array) => {
        const h = headers();
        h.set(Header.commandId, uuidv7());
        return {
          subject,
          headers: h,
          payload: toBinary(
            IngestDocumentContentSchema,
            create(IngestDocumentContentSchema, {
              content: bytes,
              hints: { mimeType: 'application/octet-stream' },
            }),
          ),
        };
      };
      // the floor, the object store client's own put with the service's chunk size and native SHA-256:
      setSha256Backend('native');
      const raw = await new Objm(nc).create('bench_raw', {
        storage: StorageType.File,
        replicas: 1,
      });
      const putRaw = (count: number, first: number) =>
        inParallel(count, async (i) => {
          await raw.putBlob(
            {
              name: `o-${first + i}`,
              options: { max_chunk_size: CHUNK_BYTES },
            },
            content(first + i),
          );
        });
      const ingestOurs = async (count: number, first: number) =>
        mustSucceed(requester, 'IngestDocumentContent', {
          count,
          window: WINDOW,
          request: (i) => ingest(content(first + i)),
          check,
          latencies: true,
        });

      // and the client storing the bytes under their CID itself, then naming them:
      const store = await ContentStore.open(nc);
      const createFromCid = methodSubject(
        DocumentCommandService.method.createDocumentFromCid,
      );
      const putThenCreate = (count: number, first: number) =>
        inParallel(count, async (i) => {
          const { cid } = await store.put(content(OTHER_SIDE + first + i));
          const h = headers();
          h.set(Header.commandId, uuidv7());
          const reply = await nc.request(
            createFromCid,
            toBinary(
              CreateDocumentFromCidSchema,
              create(CreateDocumentFromCidSchema, {
                contentCid: cid,
                title: 'bench',
              }),
            ),
            { headers: h, timeout: 30_000 },
          );
          const failure = check(reply);
          if (failure !== undefined) throw new Error(failure);
        });

      // and the floor of the first: a responder that only puts the bytes it is sent.
      const thinHttpPort = await freePort();
      const thin = cleanup.add(
        await startChild({
          name: 'thin ingest responder',
          entry: 'test/dist/bench/thin-ingest-responder.js',
          env: {
            CIM_NATS_URL: server.url,
            CIM_HTTP_PORT: String(thinHttpPort),
            CIM_BENCH_SUBJECT: THIN_SUBJECT,
          },
          httpPort: thinHttpPort,
          nodeArgs: childNodeArgs,
        }),
        (child) => child.stop(),
      );
      const ingestThin = async (count: number, first: number) =>
        mustSucceed(
          requester,
          'thin ingest',
          {
            count,
            window: WINDOW,
            request: (i) => ({
              ...ingest(content(THIN_SIDE + first + i)),
              subject: THIN_SUBJECT,
            }),
            check,
          },
          [thin],
        );

      // 4. Warm-up of every side, with bytes the timed rounds do not use.
      await putRaw(counts.warmUp, -counts.warmUp);
      await ingestOurs(counts.warmUp, -counts.warmUp);
      await putThenCreate(counts.warmUp, -counts.warmUp);
      await ingestThin(counts.warmUp, -counts.warmUp);

      // 5. Alternating rounds; raw puts and IngestDocumentContent carry the same bytes.
      const oursCpu = new CpuTotals([service.pid, server.pid, process.pid]);
      let rawSeconds = 0;
      let oursSeconds = 0;
      let directSeconds = 0;
      let thinSeconds = 0;
      const latencies: number[] = [];
      for (let round = 0; round < counts.rounds; round++) {
        const first = round * counts.perRound;
        rawSeconds += await putRaw(counts.perRound, first);
        const timed = await oursCpu.during(() =>
          ingestOurs(counts.perRound, first),
        );
        oursSeconds += timed.seconds;
        latencies.push(...timed.latenciesMs);
        directSeconds += await putThenCreate(counts.perRound, first);
        thinSeconds += (await ingestThin(counts.perRound, first)).seconds;
      }
      const total = counts.rounds * counts.perRound;
      // Each put and each request carries 1 MiB.
      const rawMiBps = total / rawSeconds;
      const oursMiBps = total / oursSeconds;
      const directMiBps = total / directSeconds;
      const thinMiBps = total / thinSeconds;
      const latency = summarize(latencies);
      const [serviceCpuUs, serverCpuUs] = oursCpu.perOperation(total);
      const ofRaw = (MiBps: number) => (MiBps / rawMiBps).toFixed(2);
      note(
        `object store put of 1 MiB: ${rawMiBps.toFixed(1)} MiB/s; IngestDocumentContent: ${oursMiBps.toFixed(1)} MiB/s = ${ofRaw(oursMiBps)} of it ` +
          `(p50 ${latency.p50.toFixed(1)} ms, p99 ${latency.p99.toFixed(1)} ms); put + CreateDocumentFromCid: ${directMiBps.toFixed(1)} MiB/s = ${ofRaw(directMiBps)} of it; ` +
          `a responder that only puts what it is sent: ${thinMiBps.toFixed(1)} MiB/s = ${ofRaw(thinMiBps)} of it`,
      );

      // 6. Every command left one commit, and no commit holds the bytes.
      await checkStream(nc, 2 * (counts.warmUp + total));

      return [
        informational('object-store-put-1mib', rawMiBps, 'MiB/s'),
        compared('document-ingest-1mib', oursMiBps, 'MiB/s', rawMiBps, '>=0.8'),
        // No target: the ratio shows what the other way in costs over the same floor.
        compared(
          'document-put-and-create-1mib',
          directMiBps,
          'MiB/s',
          rawMiBps,
          '',
        ),
        // No target: the floor of IngestDocumentContent, the bytes through a process that only stores them.
        compared('document-ingest-thin-1mib', thinMiBps, 'MiB/s', rawMiBps, ''),
        informational('document-ingest-1mib-p50', latency.p50, 'ms'),
        informational('document-ingest-1mib-p99', latency.p99, 'ms'),
        ...(serviceCpuUs === undefined
          ? []
          : [
              informational(
                'document-ingest-service-cpu',
                serviceCpuUs / 1000,
                'ms/MiB',
              ),
            ]),
        ...(serverCpuUs === undefined
          ? []
          : [
              informational(
                'document-ingest-server-cpu',
                serverCpuUs / 1000,
                'ms/MiB',
              ),
            ]),
      ];
    } finally {
      await cleanup.run();
    }
  },
};

/** Runs `work(0 … count-1)`, WINDOW at a time; resolves with the seconds it took. */
async function inParallel(
  count: number,
  work: (index: number) => Promise<void>,
): Promise<number> {
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let i = next++; i < count; i = next++) await work(i);
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: WINDOW }, worker));
  return (performance.now() - started) / 1000;
}

/** Undefined for an accepted command; else what the error reply or status says. */
function check(reply: Msg): string | undefined {
  if (isErrorReply(reply))
    return reply.headers?.get(Header.errorMessage) ?? 'error reply';
  const code = reply.headers?.code ?? 0;
  // A 503 status is NATS saying no service listens on the subject.
  if (code !== 0 && code !== 200)
    return `status ${code} ${reply.headers?.description ?? ''}`.trim();
  return undefined;
}

async function checkStream(nc: NatsConnection, commits: number): Promise<void> {
  const jsm = await jetstreamManager(nc);
  const info = await jsm.streams.info(streamName('document'), {
    subjects_filter: 'cim.document.evt.>',
  });
  const stored = Object.values(info.state.subjects ?? {}).reduce(
    (a, b) => a + b,
    0,
  );
  if (stored !== commits) {
    throw new Error(
      `CIM_DOCUMENT holds ${stored} commits, expected ${commits}`,
    );
  }
  // A commit without content is a few hundred bytes; 1 MiB of content would show.
  const perCommit = info.state.bytes / Math.max(1, info.state.messages);
  if (perCommit > 64 * 1024) {
    throw new Error(
      `commits average ${perCommit.toFixed(0)} B: content leaked into events`,
    );
  }
}
