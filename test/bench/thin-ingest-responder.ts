// A child process: the floor of content ingest for the document-ingest
// benchmark. It takes IngestDocumentContent requests, decodes each and puts its
// bytes into the content store under their CID (as the document service does),
// then answers: no command, no commit, no read model. The ratio it reaches is
// what a command that carries its bytes through a service leaves for the rest.
// Environment: CIM_NATS_URL, CIM_HTTP_PORT (/readyz), CIM_BENCH_SUBJECT,
// CIM_BENCH_BUCKET.
import { fromBinary } from '@bufbuild/protobuf';
import { ContentStore } from '@cim/document';
import { errorReplyFor } from '@cim/messaging';
import { IngestDocumentContentSchema } from '@cim/proto/cim/document/v1/document_pb';
import { connect } from '@nats-io/transport-node';
import { serveReadiness } from './readiness.js';

const httpPort = Number(process.env['CIM_HTTP_PORT']);
const subject = process.env['CIM_BENCH_SUBJECT'] ?? 'cim.bench.cmd.Ingest';

const nc = await connect({ servers: process.env['CIM_NATS_URL'] ?? '' });
const store = await ContentStore.open(nc, {
  bucket: process.env['CIM_BENCH_BUCKET'] ?? 'bench_thin',
});

nc.subscribe(subject, {
  queue: 'thin',
  callback: (_error, msg) => {
    const { content } = fromBinary(IngestDocumentContentSchema, msg.data);
    store.put(content).then(
      ({ cid }) => msg.respond(cid),
      (error: unknown) => {
        // Answered as the services answer, so the load generator counts it as a failure.
        const { headers, body } = errorReplyFor(error);
        msg.respond(body, { headers });
      },
    );
  },
});
await nc.flush();

serveReadiness(httpPort, () => nc.close());
