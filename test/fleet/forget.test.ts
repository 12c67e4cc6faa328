import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { documentService } from '@cim/document';
import { graphService } from '@cim/graph';
import { derivedUuid } from '@cim/kernel';
import {
  GraphCommandService,
  GraphQueryService,
} from '@cim/proto/cim/graph/v1/graph_pb';
import {
  DocumentCommandService,
  DocumentQueryService,
} from '@cim/proto/cim/document/v1/document_pb';
import {
  ERASED,
  ephemeralKeyring,
  verifyDomain,
  type RunningService,
} from '@cim/service';
import {
  sendCommand,
  sendQuery,
  startNatsServer,
  testLogger,
  type NatsServerHandle,
} from '@cim/testing';
import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';

const cmd = GraphCommandService.method;
const qry = GraphQueryService.method;

describe('the right to be forgotten (crypto-shredding)', () => {
  let server: NatsServerHandle;
  let nc: NatsConnection;
  let service: RunningService;
  const keyring = ephemeralKeyring();
  const masterKey = randomBytes(32);
  const start = () =>
    graphService.start({
      nc,
      log: testLogger(),
      keyring,
      masterKey,
      checkpointEveryMs: 50,
    });

  /** Every message in the stream, by sequence. */
  async function streamBytes(): Promise<Map<number, string>> {
    const jsm = await jetstreamManager(nc);
    const { state } = await jsm.streams.info('CIM_GRAPH');
    const out = new Map<number, string>();
    for (let seq = 1; seq <= state.last_seq; seq++) {
      const m = await jsm.streams.getMessage('CIM_GRAPH', { seq });
      if (m !== null) out.set(seq, Buffer.from(m.data).toString('latin1'));
    }
    return out;
  }

  const labels = async (graphId: string) =>
    (await sendQuery(nc, qry.listNodes, { graphId })).nodes.map((n) => [
      n.nodeId,
      n.label,
    ]);

  beforeAll(async () => {
    server = await startNatsServer();
    nc = await connect({ servers: server.url });
    service = await start();
  });

  afterAll(async () => {
    await service.stop();
    await nc.close();
    await server.stop();
  });

  it('stores personal fields encrypted, forgets them everywhere, and leaves the history intact', async () => {
    const { aggregateId: alice } = await sendCommand(nc, cmd.createGraph, {
      name: 'alice',
    });
    const { aggregateId: carol } = await sendCommand(nc, cmd.createGraph, {
      name: 'carol',
    });
    await sendCommand(nc, cmd.addNode, {
      graphId: alice,
      nodeId: 'a',
      nodeType: 'person',
      label: 'Alice Example',
    });
    await sendCommand(nc, cmd.addNode, {
      graphId: alice,
      nodeId: 'b',
      nodeType: 'person',
      label: 'Alice Again',
    });
    const last = await sendCommand(nc, cmd.addNode, {
      graphId: carol,
      nodeId: 'c',
      nodeType: 'person',
      label: 'Carol Example',
    });
    await sendQuery(nc, qry.graphInfo, {
      graphId: carol,
      minVersion: last.version,
    });

    // Readable through the service, never in the clear in the stream.
    expect(await labels(alice)).toEqual([
      ['a', 'Alice Example'],
      ['b', 'Alice Again'],
    ]);
    const before = await streamBytes();
    expect(
      [...before.values()].some(
        (bytes) => bytes.includes('Alice') || bytes.includes('Carol'),
      ),
    ).toBe(false);

    const forgotten = await sendCommand(nc, cmd.forgetSubject, {
      subjectId: alice,
      reason: 'erasure request',
    });
    expect(forgotten.aggregateId).toBe(derivedUuid('forget', alice));

    // Erased in queries and in History; another subject is untouched.
    expect(await labels(alice)).toEqual([
      ['a', ERASED],
      ['b', ERASED],
    ]);
    expect(await labels(carol)).toEqual([['c', 'Carol Example']]);
    const history = await sendQuery(nc, qry.history, { aggregateId: alice });
    const nodeEvents = history.entries
      .flatMap((e) => e.events)
      .filter((e) => e.eventType === 'NodeAdded');
    expect(
      nodeEvents.map(
        (e) =>
          (JSON.parse(e.json) as { nodeAdded: { label: string } }).nodeAdded
            .label,
      ),
    ).toEqual([ERASED, ERASED]);

    // Nothing stored before changed; the only new commit is the audited act of forgetting.
    const after = await streamBytes();
    for (const [seq, bytes] of before) expect(after.get(seq)).toBe(bytes);
    const audit = await sendQuery(nc, qry.history, {
      aggregateId: forgotten.aggregateId,
    });
    expect(audit.entries).toHaveLength(1);
    expect(audit.entries[0]).toMatchObject({ actor: 'user:test' });
    expect(JSON.parse(audit.entries[0]!.events[0]!.json)).toEqual({
      subjectId: alice,
      reason: 'erasure request',
    });

    // The history still verifies.
    let report = await verifyDomain(nc, 'graph');
    for (let i = 0; i < 100 && report.unsealed.commits > 0; i++) {
      await new Promise((r) => setTimeout(r, 50));
      report = await verifyDomain(nc, 'graph');
    }
    expect(report.findings).toEqual([]);

    // Forgetting again answers with the first record; a restart changes nothing; new personal data stays erased.
    expect(
      await sendCommand(nc, cmd.forgetSubject, {
        subjectId: alice,
        reason: 'again',
      }),
    ).toEqual(forgotten);
    await service.stop();
    service = await start();
    expect(await labels(alice)).toEqual([
      ['a', ERASED],
      ['b', ERASED],
    ]);
    expect(await labels(carol)).toEqual([['c', 'Carol Example']]);
    const added = await sendCommand(nc, cmd.addNode, {
      graphId: alice,
      nodeId: 'new',
      nodeType: 'person',
      label: 'Alice Returns',
    });
    const nodes = await sendQuery(nc, qry.listNodes, {
      graphId: alice,
      minVersion: added.version,
    });
    expect(nodes.nodes.find((n) => n.nodeId === 'new')?.label).toBe(ERASED);
  });
});

describe('forgetting a data subject who is not the aggregate: comment authors', () => {
  const docCmd = DocumentCommandService.method;
  const docQry = DocumentQueryService.method;
  let server: NatsServerHandle;
  let nc: NatsConnection;
  let service: RunningService;

  beforeAll(async () => {
    server = await startNatsServer();
    nc = await connect({ servers: server.url });
    service = await documentService.start({
      nc,
      log: testLogger(),
      masterKey: randomBytes(32),
      checkpointEveryMs: 50,
    });
  });

  afterAll(async () => {
    await service.stop();
    await nc.close();
    await server.stop();
  });

  const newDocument = async () =>
    (
      await sendCommand(nc, docCmd.ingestDocumentContent, {
        content: new TextEncoder().encode(`text ${Math.random()}`),
        hints: { title: 'doc', mimeType: 'text/plain' },
      })
    ).aggregateId;

  const comment = (documentId: string, author: string, content: string) =>
    sendCommand(
      nc,
      docCmd.addComment,
      { documentId, content },
      { actor: author },
    );

  const comments = async (documentId: string) =>
    (await sendQuery(nc, docQry.listComments, { documentId })).comments.map(
      (c) => [c.author, c.content],
    );

  it("erases what one author wrote in every document, and nobody else's", async () => {
    const first = await newDocument();
    const second = await newDocument();
    await comment(first, 'user:alice', 'alice on first');
    await comment(first, 'user:bob', 'bob on first');
    await comment(second, 'user:alice', 'alice on second');
    const last = await comment(second, 'user:bob', 'bob on second');

    // Stored encrypted: the plain text is nowhere in the stream.
    const jsm = await jetstreamManager(nc);
    const { state } = await jsm.streams.info('CIM_DOCUMENT');
    let stored = '';
    for (let seq = 1; seq <= state.last_seq; seq++) {
      const m = await jsm.streams.getMessage('CIM_DOCUMENT', { seq });
      if (m !== null) stored += Buffer.from(m.data).toString('latin1');
    }
    expect(stored).not.toContain('alice on first');
    expect(stored).not.toContain('bob on second');
    await sendQuery(nc, docQry.listComments, {
      documentId: second,
      minVersion: last.version,
    });
    expect(await comments(first)).toEqual([
      ['user:alice', 'alice on first'],
      ['user:bob', 'bob on first'],
    ]);

    const forgotten = await sendCommand(nc, docCmd.forgetSubject, {
      subjectId: 'user:alice',
      reason: 'erasure request',
    });
    expect(forgotten.aggregateId).toBe(derivedUuid('forget', 'user:alice'));

    expect(await comments(first)).toEqual([
      ['user:alice', ERASED],
      ['user:bob', 'bob on first'],
    ]);
    expect(await comments(second)).toEqual([
      ['user:alice', ERASED],
      ['user:bob', 'bob on second'],
    ]);
    // A new comment by the forgotten author is stored erased too: the key never comes back.
    const again = await comment(first, 'user:alice', 'alice again');
    await sendQuery(nc, docQry.listComments, {
      documentId: first,
      minVersion: again.version,
    });
    expect((await comments(first)).at(-1)).toEqual(['user:alice', ERASED]);
    // The history still verifies: hashes cover the ciphertext, nothing was rewritten.
    const report = await verifyDomain(nc, 'document');
    expect(report.findings).toEqual([]);
  });
});
