import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { documentService } from '@cim/document';
import { DomainError, ErrorCode, uuidv7 } from '@cim/kernel';
import {
  DocumentCommandService,
  LinkType,
} from '@cim/proto/cim/document/v1/document_pb';
import { GraphQueryService } from '@cim/proto/cim/graph/v1/graph_pb';
import type { RunningService } from '@cim/service';
import {
  eventually,
  countCommits,
  consumerSettled,
  sendCommand,
  sendQuery,
  startNatsServer,
  testLogger,
  type NatsServerHandle,
} from '@cim/testing';
import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { DOCUMENTS_GRAPH_ID, documentLinkEdgeId } from '../src/reactions.js';
import { graphService } from '../src/service.js';

const docCmd = DocumentCommandService.method;
const qry = GraphQueryService.method;
const CONSUMER = 'cim-graph-document-nodes';
const text = (s: string) => new TextEncoder().encode(s);

describe('document events become nodes of the documents graph', () => {
  let server: NatsServerHandle;
  let nc: NatsConnection;
  let graphs: RunningService;
  let documents: RunningService;
  const startGraphs = (options: { resultCacheSize?: number } = {}) =>
    graphService.start({ nc, log: testLogger(), ...options });

  async function ingest(title: string): Promise<string> {
    const result = await sendCommand(nc, docCmd.ingestDocumentContent, {
      content: text(`${title} body`),
      hints: { title, mimeType: 'text/plain' },
    });
    return result.aggregateId;
  }

  /** The documents graph's nodes and edges once it holds `nodes` nodes and `edges` edges. */
  const graphWith = (nodes: number, edges: number) =>
    eventually(async () => {
      const info = await sendQuery(nc, qry.graphInfo, {
        graphId: DOCUMENTS_GRAPH_ID,
      }).catch((e: unknown) => {
        if (DomainError.is(e) && e.code === ErrorCode.NOT_FOUND)
          return undefined;
        throw e;
      });
      if (
        info?.graph?.nodeCount !== BigInt(nodes) ||
        info.graph.edgeCount !== BigInt(edges)
      )
        return undefined;
      return {
        info: info.graph,
        nodes: await sendQuery(nc, qry.listNodes, {
          graphId: DOCUMENTS_GRAPH_ID,
        }),
        edges: await sendQuery(nc, qry.listEdges, {
          graphId: DOCUMENTS_GRAPH_ID,
        }),
      };
    }, `${nodes} nodes and ${edges} edges in the documents graph`);

  let a: string;
  let b: string;
  let fork: string;

  beforeAll(async () => {
    server = await startNatsServer();
    nc = await connect({ servers: server.url });
    documents = await documentService.start({ nc, log: testLogger() });
    // The reaction waits for the document stream, so the order does not matter.
    graphs = await startGraphs();
    a = await ingest('Design notes');
    b = await ingest('Review');
    fork = uuidv7();
    await sendCommand(nc, docCmd.forkDocument, {
      documentId: a,
      forkId: fork,
      title: 'Design notes (fork)',
    });
    await sendCommand(nc, docCmd.linkDocuments, {
      documentId: b,
      targetId: a,
      linkType: LinkType.REFERENCES,
    });
  });

  afterAll(async () => {
    await graphs.stop();
    await documents.stop();
    await nc.close();
    await server.stop();
  });

  it('adds a node per document, labelled by its title, and edges for forks and links', async () => {
    const { info, nodes, edges } = await graphWith(3, 2);
    expect(info).toMatchObject({ name: 'Documents' });
    expect(
      Object.fromEntries(
        nodes.nodes.map((n) => [n.nodeId, [n.nodeType, n.label]]),
      ),
    ).toEqual({
      [a]: ['document', 'Design notes'],
      [b]: ['document', 'Review'],
      [fork]: ['document', 'Design notes (fork)'],
    });
    expect(
      edges.edges.map((e) => [e.edgeId, e.source, e.target, e.edgeType]).sort(),
    ).toEqual(
      [
        [documentLinkEdgeId(fork, a, 'forked_from'), fork, a, 'forked_from'],
        [documentLinkEdgeId(b, a, 'references'), b, a, 'references'],
      ].sort(),
    );
  });

  it('reports what the reaction has left as cim_reaction_pending', async () => {
    await graphWith(3, 2);
    await consumerSettled(nc, 'document', CONSUMER);
    const pending = await graphs.metrics.registry
      .getSingleMetric('cim_reaction_pending')!
      .get();
    expect(pending.values).toEqual([
      { value: 0, labels: { reaction: 'document-nodes' } },
    ]);
  });

  it('changes nothing when every document event is delivered again', async () => {
    await graphWith(3, 2);
    await consumerSettled(nc, 'document', CONSUMER);
    const before = {
      commits: await countCommits(nc, 'graph'),
      graph: await graphWith(3, 2),
    };

    // A fresh durable consumer starts from the first document event again; with
    // a results cache of one entry the repeats must be refused by the graph itself.
    await graphs.stop();
    const jsm = await jetstreamManager(nc);
    await jsm.consumers.delete('CIM_DOCUMENT', CONSUMER);
    graphs = await startGraphs({ resultCacheSize: 1 });
    await eventually(
      () => jsm.consumers.info('CIM_DOCUMENT', CONSUMER).catch(() => undefined),
      'the consumer to come back',
    );
    await consumerSettled(nc, 'document', CONSUMER);

    const after = {
      commits: await countCommits(nc, 'graph'),
      graph: await graphWith(3, 2),
    };
    expect(after).toEqual(before);

    // The reaction goes on working after the redelivery.
    const c = await ingest('Later');
    const grown = await graphWith(4, 2);
    expect(grown.nodes.nodes.map((n) => n.nodeId)).toContain(c);
  });
});
