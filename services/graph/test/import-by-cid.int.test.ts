import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { contentCid, defineDocumentService } from '@cim/document';
import { ErrorCode, methodSubject, uuidv7 } from '@cim/kernel';
import { UnavailableError } from '@cim/messaging';
import {
  DocumentCommandService,
  DocumentQueryService,
} from '@cim/proto/cim/document/v1/document_pb';
import {
  GraphCommandService,
  GraphQueryService,
  ImportFormat,
} from '@cim/proto/cim/graph/v1/graph_pb';
import type { RunningService } from '@cim/service';
import {
  countCommits,
  rejection,
  sendCommand,
  sendQuery,
  startNatsServer,
  testLogger,
  type NatsServerHandle,
} from '@cim/testing';
import type { NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { IMPORT_LIMITS } from '../src/import-text.js';
import { graphService } from '../src/service.js';

const cmd = GraphCommandService.method;
const qry = GraphQueryService.method;
const docCmd = DocumentCommandService.method;
const docQry = DocumentQueryService.method;
const text = (s: string) => new TextEncoder().encode(s);

describe('ImportGraph by content_cid over NATS', () => {
  let server: NatsServerHandle;
  let nc: NatsConnection;
  let graphs: RunningService;
  let documents: RunningService | undefined;

  const startDocuments = async () => {
    documents = await defineDocumentService().start({ nc, log: testLogger() });
  };

  async function store(bytes: Uint8Array): Promise<string> {
    await sendCommand(nc, docCmd.ingestDocumentContent, {
      content: bytes,
      hints: { title: 'graph source', mimeType: 'text/plain' },
    });
    return contentCid(bytes);
  }

  async function newGraph(): Promise<string> {
    const graphId = uuidv7();
    await sendCommand(nc, cmd.createGraph, { graphId, name: 'imported' });
    return graphId;
  }

  beforeAll(async () => {
    // Room for a document just over the import bound in one ingest request.
    server = await startNatsServer({ config: 'max_payload: 8MB' });
    nc = await connect({ servers: server.url });
    graphs = await graphService.start({ nc, log: testLogger() });
    await startDocuments();
  });

  afterAll(async () => {
    await documents?.stop();
    await graphs.stop();
    await nc.close();
    await server.stop();
  });

  it.each([
    [ImportFormat.DOT, 'digraph { a [label="A"]; a -> b -> c }'],
    [ImportFormat.MERMAID, 'flowchart LR\n  a[A] --> b --> c'],
    [
      ImportFormat.GRAPHML,
      '<graphml><key id="l" for="node" attr.name="label"/><graph edgedefault="directed"><node id="a"><data key="l">A</data></node><node id="b"/><node id="c"/><edge source="a" target="b"/><edge source="b" target="c"/></graph></graphml>',
    ],
    [
      ImportFormat.JSON,
      '{"nodes":[{"id":"a","type":"node","label":"A"},{"id":"b","type":"node"},{"id":"c","type":"node"}],"edges":[{"source":"a","target":"b","type":"edge","directed":true},{"source":"b","target":"c","type":"edge","directed":true}]}',
    ],
  ])('imports a stored document in format %s', async (format, source) => {
    const cid = await store(text(`${source}\n`));
    const graphId = await newGraph();
    const result = await sendCommand(nc, cmd.importGraph, {
      graphId,
      format,
      contentCid: cid,
    });
    expect(result.eventIds).toHaveLength(6); // GraphImported, 3 NodeAdded, 2 EdgeAdded
    const listed = await sendQuery(nc, qry.listNodes, {
      graphId,
      minVersion: result.version,
    });
    expect(listed.nodes.map((n) => [n.nodeId, n.label])).toEqual([
      ['a', 'A'],
      ['b', undefined],
      ['c', undefined],
    ]);
    const path = await sendQuery(nc, qry.shortestPath, {
      graphId,
      fromNodeId: 'a',
      toNodeId: 'c',
    });
    expect(path.nodeIds).toEqual(['a', 'b', 'c']);
  });

  it('answers an unknown CID with NOT_FOUND and appends nothing', async () => {
    const graphId = await newGraph();
    const missing = contentCid(text(`never stored ${uuidv7()}`));
    await expect(
      rejection(
        sendCommand(nc, cmd.importGraph, {
          graphId,
          format: ImportFormat.DOT,
          contentCid: missing,
        }),
      ),
    ).resolves.toBe(ErrorCode.NOT_FOUND);
    expect(await countCommits(nc, 'graph', graphId)).toBe(1);
  });

  it('answers a malformed CID with VALIDATION_FAILED and appends nothing', async () => {
    const graphId = await newGraph();
    await expect(
      rejection(
        sendCommand(nc, cmd.importGraph, {
          graphId,
          format: ImportFormat.DOT,
          contentCid: 'not-a-cid',
        }),
      ),
    ).resolves.toBe(ErrorCode.VALIDATION_FAILED);
    expect(await countCommits(nc, 'graph', graphId)).toBe(1);
  });

  it('answers both content and content_cid with VALIDATION_FAILED', async () => {
    const graphId = await newGraph();
    const cid = await store(text('digraph { x }'));
    await expect(
      rejection(
        sendCommand(nc, cmd.importGraph, {
          graphId,
          format: ImportFormat.DOT,
          content: 'digraph { y }',
          contentCid: cid,
        }),
      ),
    ).resolves.toBe(ErrorCode.VALIDATION_FAILED);
    expect(await countCommits(nc, 'graph', graphId)).toBe(1);
  });

  it('answers content over the size bound with VALIDATION_FAILED', async () => {
    const graphId = await newGraph();
    const big = text(
      `digraph { a }\n${'/'.repeat(IMPORT_LIMITS.contentBytes)}\n${uuidv7()}`,
    );
    const cid = await store(big);
    const error = await sendCommand(nc, cmd.importGraph, {
      graphId,
      format: ImportFormat.DOT,
      contentCid: cid,
    }).catch((e: unknown) => e);
    expect(error).toMatchObject({
      code: ErrorCode.VALIDATION_FAILED,
      message: expect.stringMatching(/an import reads at most 1048576/),
    });
    expect(await countCommits(nc, 'graph', graphId)).toBe(1);
  });

  it('answers content that is not UTF-8 with VALIDATION_FAILED', async () => {
    const graphId = await newGraph();
    const cid = await store(new Uint8Array([0x67, 0xff, 0xfe, 0x00, 0x01]));
    const error = await sendCommand(nc, cmd.importGraph, {
      graphId,
      format: ImportFormat.DOT,
      contentCid: cid,
    }).catch((e: unknown) => e);
    expect(error).toMatchObject({
      code: ErrorCode.VALIDATION_FAILED,
      message: expect.stringMatching(/not UTF-8/),
    });
  });

  it('answers a parse error in stored content with VALIDATION_FAILED naming the line', async () => {
    const graphId = await newGraph();
    const cid = await store(text(`flowchart\n  a --> \n%% ${uuidv7()}`));
    const error = await sendCommand(nc, cmd.importGraph, {
      graphId,
      format: ImportFormat.MERMAID,
      contentCid: cid,
    }).catch((e: unknown) => e);
    expect(error).toMatchObject({
      code: ErrorCode.VALIDATION_FAILED,
      message: expect.stringMatching(/^line 2, column 9: /),
    });
  });

  it('answers UNAVAILABLE while the document service is down, and imports once it is back', async () => {
    const graphId = await newGraph();
    const cid = await store(text(`digraph { p -> q } // ${uuidv7()}`));
    await documents?.stop();
    documents = undefined;
    try {
      const error = await sendCommand(nc, cmd.importGraph, {
        graphId,
        format: ImportFormat.DOT,
        contentCid: cid,
      }).catch((e: unknown) => e);
      expect(UnavailableError.is(error)).toBe(true);
      expect(await countCommits(nc, 'graph', graphId)).toBe(1);
    } finally {
      await startDocuments();
    }
    const result = await sendCommand(nc, cmd.importGraph, {
      graphId,
      format: ImportFormat.DOT,
      contentCid: cid,
    });
    expect(result.version).toBe(5n); // created, imported, p, q, p → q
  });

  it('gives up on GetContent when its caller stops waiting, not at its own bound', async () => {
    const graphId = await newGraph();
    const cid = await store(text(`digraph { r -> s } // ${uuidv7()}`));
    await documents?.stop();
    documents = undefined;
    // A document service that takes GetContent and never answers.
    const silent = nc.subscribe(methodSubject(docQry.getContent));
    try {
      // The caller waits 300 ms; GetContent alone may take 5 s. The client
      // waits 2 s: an answer at all shows the service gave up at the caller's time.
      const error = await sendCommand(
        nc,
        cmd.importGraph,
        { graphId, format: ImportFormat.DOT, contentCid: cid },
        { timeout: '300', waitMs: 2000 },
      ).catch((e: unknown) => e as Error);
      expect(UnavailableError.is(error)).toBe(true);
      expect((error as Error).message).toContain(
        methodSubject(docQry.getContent),
      );
      expect(await countCommits(nc, 'graph', graphId)).toBe(1);
    } finally {
      silent.unsubscribe();
      await startDocuments();
    }
  });
});
