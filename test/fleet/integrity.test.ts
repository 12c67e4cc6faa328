import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from '@jest/globals';
import { graphService } from '@cim/graph';
import {
  FindingKind,
  GENESIS_HASH,
  checkpointHash,
  generateSigningKey,
  openCheckpoint,
  sealCommit,
  signCheckpoint,
  uuidv7,
  type VerifyReport,
} from '@cim/kernel';
import { create } from '@bufbuild/protobuf';
import { CommandMetaSchema } from '@cim/proto/cim/common/v1/envelope_pb';
import {
  GraphCommandService,
  GraphQueryService,
} from '@cim/proto/cim/graph/v1/graph_pb';
import {
  ephemeralKeyring,
  verifyDomain,
  type Keyring,
  type RunningService,
} from '@cim/service';
import {
  countCommits,
  sendCommand,
  sendQuery,
  startNatsServer,
  testLogger,
  type NatsServerHandle,
} from '@cim/testing';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';

const cmd = GraphCommandService.method;
const qry = GraphQueryService.method;
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

interface Fleet {
  server: NatsServerHandle;
  nc: NatsConnection;
  keyring: Keyring;
  service: RunningService;
}

async function fleet(keyring: Keyring = ephemeralKeyring()): Promise<Fleet> {
  const server = await startNatsServer();
  cleanups.push(() => server.stop());
  const nc = await connect({
    servers: server.url,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 100,
  });
  cleanups.push(() => nc.close());
  const service = await graphService.start({
    nc,
    log: testLogger(),
    keyring,
    checkpointEveryMs: 50,
  });
  cleanups.push(() => service.stop());
  return { server, nc, keyring, service };
}

/** A graph with a few nodes whose ids start with `marker`, so their bytes can be found on disk (labels are personal: encrypted). */
async function someHistory(nc: NatsConnection, marker = 'n'): Promise<string> {
  const { aggregateId: graphId } = await sendCommand(nc, cmd.createGraph, {
    name: 'audited',
  });
  for (let i = 0; i < 5; i++) {
    await sendCommand(nc, cmd.addNode, {
      graphId,
      nodeId: `${marker}${i}`,
      nodeType: 't',
      label: `label ${i}`,
    });
  }
  return graphId;
}

/** Verifies until every commit is sealed (checkpoints follow commits within milliseconds). */
async function verifySealed(nc: NatsConnection): Promise<VerifyReport> {
  for (let attempt = 0; ; attempt++) {
    const report = await verifyDomain(nc, 'graph');
    if (report.unsealed.commits === 0 || attempt === 100) return report;
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * What an attacker with JetStream API access can do to a stream whose deletes
 * are denied (deny_delete cannot be lifted): delete the whole stream and
 * rebuild it from a copy without the messages `drop` selects.
 */
async function rebuildWithout(
  nc: NatsConnection,
  drop: (seq: number, subject: string) => boolean,
): Promise<void> {
  const jsm = await jetstreamManager(nc);
  const info = await jsm.streams.info('CIM_GRAPH');
  const kept: Array<{ subject: string; data: Uint8Array }> = [];
  for (let seq = 1; seq <= info.state.last_seq; seq++) {
    const m = await jsm.streams.getMessage('CIM_GRAPH', { seq });
    if (m !== null && !drop(seq, m.subject))
      kept.push({ subject: m.subject, data: m.data });
  }
  await jsm.streams.delete('CIM_GRAPH');
  await jsm.streams.add({ ...info.config, deny_delete: false });
  const js = jetstream(nc);
  for (const m of kept) await js.publish(m.subject, m.data);
}

const kinds = (report: VerifyReport) =>
  new Set(report.findings.map((f) => f.kind));

describe('tamper-evident history', () => {
  it('verifies an untouched stream as clean, every commit sealed', async () => {
    const { nc } = await fleet();
    await someHistory(nc);
    const report = await verifySealed(nc);
    expect(report.findings).toEqual([]);
    expect(report.clean).toBe(true);
    expect(report.commits).toBe(6);
    expect(report.checkpoints).toBeGreaterThan(0);
    expect(report.unsealed.commits).toBe(0);
  });

  it('detects a commit deleted through the JetStream API', async () => {
    const { nc, service } = await fleet();
    const graphId = await someHistory(nc);
    await verifySealed(nc);
    const history = await sendQuery(nc, qry.history, { aggregateId: graphId });
    const victim = Number(history.entries[2]!.streamSequence);
    const jsm = await jetstreamManager(nc);
    // The stream refuses to delete a message, and the protection cannot be lifted.
    await expect(
      jsm.streams.deleteMessage('CIM_GRAPH', victim),
    ).rejects.toThrow();
    const { config } = await jsm.streams.info('CIM_GRAPH');
    await expect(
      jsm.streams.update('CIM_GRAPH', { ...config, deny_delete: false }),
    ).rejects.toThrow();
    await service.stop();
    await rebuildWithout(nc, (seq) => seq === victim);
    const report = await verifyDomain(nc, 'graph');
    expect(report.clean).toBe(false);
    expect(kinds(report)).toContain(FindingKind.brokenChain);
    expect(kinds(report)).toContain(FindingKind.versionGap);
  });

  it('detects a forged commit appended by a client without the service key, and never uses it', async () => {
    const { nc } = await fleet();
    const graphId = await someHistory(nc);
    await verifySealed(nc);
    const history = await sendQuery(nc, qry.history, { aggregateId: graphId });
    const last = history.entries[history.entries.length - 1]!;
    // The attacker reads the last commit and chains a well-formed commit to it: only the mac is missing.
    const stored = await jetstreamManager(nc).then((jsm) =>
      jsm.streams.getMessage('CIM_GRAPH', { seq: Number(last.streamSequence) }),
    );
    const prevHash = stored!.data.subarray(
      stored!.data.length - 66,
      stored!.data.length - 34,
    );
    const forged = sealCommit({
      commitId: uuidv7(),
      domain: 'graph',
      aggregateType: 'Graph',
      aggregateId: graphId,
      version: last.version + 1n,
      events: [],
      meta: create(CommandMetaSchema, {
        commandId: uuidv7(),
        actor: 'user:mallory',
      }),
      occurredAtMs: Date.now(),
      prevHash,
    });
    await jetstream(nc).publish(`cim.graph.evt.${graphId}`, forged.bytes);
    const report = await verifySealed(nc);
    const forgedFinding = report.findings.find(
      (f) => f.kind === FindingKind.forgedCommit,
    );
    expect(forgedFinding).toMatchObject({ aggregateId: graphId });
    expect(report.clean).toBe(false);
    // The service does not build on it: the read model ignores it and commands on the aggregate are refused.
    const info = await sendQuery(nc, qry.graphInfo, { graphId });
    expect(info.graph?.version).toBe(last.version);
    const before = await countCommits(nc, 'graph', graphId);
    await expect(
      sendCommand(nc, cmd.addNode, { graphId, nodeId: 'after', nodeType: 't' }),
    ).rejects.toThrow();
    expect(await countCommits(nc, 'graph', graphId)).toBe(before);
  });

  it('detects a byte changed in the stream files while the server was stopped', async () => {
    const { server, nc, service } = await fleet();
    const marker = `marker${uuidv7().slice(0, 8)}`;
    await someHistory(nc, marker);
    await verifySealed(nc);
    await service.stop();
    await server.kill('SIGTERM');
    const dir = join(
      server.storeDir,
      'jetstream',
      '$G',
      'streams',
      'CIM_GRAPH',
      'msgs',
    );
    let changed = false;
    for (const file of readdirSync(dir).filter((f) => f.endsWith('.blk'))) {
      const bytes = readFileSync(join(dir, file));
      const at = bytes.indexOf(`${marker}3`);
      if (at >= 0) {
        bytes[at + marker.length] = '7'.charCodeAt(0); // the node id now reads <marker>7
        writeFileSync(join(dir, file), bytes);
        changed = true;
      }
    }
    expect(changed).toBe(true);
    await server.restart();
    let report: VerifyReport | undefined;
    for (let attempt = 0; report === undefined; attempt++) {
      // The client reconnects and the server recovers the stream on its own schedule.
      report = await verifyDomain(nc, 'graph').catch((error: unknown) => {
        if (attempt === 50) throw error;
        return new Promise<undefined>((r) =>
          setTimeout(() => r(undefined), 100),
        );
      });
    }
    expect(report.clean).toBe(false);
    // Either the chain breaks at the edited commit, or the server discards the damaged message: a gap.
    expect(
      [FindingKind.brokenChain, FindingKind.sequenceGap].some((k) =>
        kinds(report).has(k),
      ),
    ).toBe(true);
  });

  it('detects a removed checkpoint', async () => {
    const { nc, service } = await fleet();
    await someHistory(nc);
    const first = await verifySealed(nc);
    expect(first.checkpoints).toBeGreaterThan(0);
    await someHistory(nc);
    const second = await verifySealed(nc);
    expect(second.checkpoints).toBeGreaterThan(first.checkpoints);
    const jsm = await jetstreamManager(nc);
    const firstChk = await jsm.direct.getMessage('CIM_GRAPH', {
      next_by_subj: 'cim.graph.chk',
      seq: 1,
    });
    await service.stop();
    await rebuildWithout(nc, (seq) => seq === firstChk!.seq);
    const report = await verifyDomain(nc, 'graph');
    expect(kinds(report)).toContain(FindingKind.checkpointChain);
  });

  it('detects a checkpoint signed with another key, which seals nothing', async () => {
    const { nc } = await fleet();
    await someHistory(nc);
    await verifySealed(nc);
    const jsm = await jetstreamManager(nc);
    const chk = await jsm.streams.getMessage('CIM_GRAPH', {
      last_by_subj: 'cim.graph.chk',
    });
    const { checkpoint } = openCheckpoint(chk!.data)!;
    const mallory = generateSigningKey();
    const resigned = signCheckpoint(
      {
        domain: 'graph',
        firstSeq: Number(checkpoint.lastSeq) + 1,
        lastSeq: chk!.seq,
        commitCount: 0,
        merkleRoot: new Uint8Array(32),
        excludedSeqs: [],
        prevCheckpointHash: GENESIS_HASH,
        sealedAtMs: Date.now(),
      },
      mallory,
    );
    await jetstream(nc).publish('cim.graph.chk', resigned);
    // The service goes on sealing past it, chained to its own last checkpoint.
    await someHistory(nc, 'after');
    const report = await verifySealed(nc);
    // Reported, and nothing else: it counts for neither chain nor coverage.
    expect(report.findings.map((f) => f.kind)).toEqual([
      FindingKind.unknownKey,
    ]);
    expect(report.findings[0]?.message).toContain(mallory.keyId);
    expect(report.commits).toBe(12);
    expect(report.unsealed.commits).toBe(0);
    const next = await jsm.streams.getMessage('CIM_GRAPH', {
      last_by_subj: 'cim.graph.chk',
    });
    const sealedAfter = openCheckpoint(next!.data)!.checkpoint;
    expect(sealedAfter.keyId).not.toBe(mallory.keyId);
    expect(sealedAfter.prevCheckpointHash).toEqual(checkpointHash(chk!.data));
    expect(sealedAfter.firstSeq).toBe(checkpoint.lastSeq + 1n);
  });

  it('keeps history verifiable across a key rotation', async () => {
    const old = ephemeralKeyring();
    const first = await fleet(old);
    await someHistory(first.nc);
    await verifySealed(first.nc);
    await first.service.stop();
    const next = generateSigningKey();
    const rotated: Keyring = { active: next, keys: [next, ...old.keys] };
    const service = await graphService.start({
      nc: first.nc,
      log: testLogger(),
      keyring: rotated,
      checkpointEveryMs: 50,
    });
    cleanups.push(() => service.stop());
    const graphId = await someHistory(first.nc);
    await sendCommand(first.nc, cmd.addNode, {
      graphId,
      nodeId: 'late',
      nodeType: 't',
    });
    const report = await verifySealed(first.nc);
    expect(report.findings).toEqual([]);
    const keys = await sendQuery(first.nc, qry.publicKeys, {});
    expect(keys.keys.map((k) => [k.keyId, k.retired]).sort()).toEqual(
      [
        [old.active.keyId, true],
        [next.keyId, false],
      ].sort(),
    );
  });

  it('answers History with every commit in order, with actor and events', async () => {
    const { nc } = await fleet();
    const graphId = await someHistory(nc);
    const page1 = await sendQuery(nc, qry.history, {
      aggregateId: graphId,
      page: { pageSize: 4 },
    });
    expect(page1.entries.map((e) => e.version)).toEqual([1n, 2n, 3n, 4n]);
    const page2 = await sendQuery(nc, qry.history, {
      aggregateId: graphId,
      page: { pageSize: 4, pageToken: page1.page!.nextPageToken },
    });
    expect(page2.entries.map((e) => e.version)).toEqual([5n, 6n]);
    expect(page2.page?.nextPageToken).toBe('');
    expect(page1.entries[0]).toMatchObject({ actor: 'user:test' });
    expect(page1.entries[1]!.events[0]).toMatchObject({
      eventType: 'NodeAdded',
    });
    expect(JSON.parse(page1.entries[1]!.events[0]!.json)).toMatchObject({
      nodeAdded: { nodeId: 'n0' },
    });
  });
});
