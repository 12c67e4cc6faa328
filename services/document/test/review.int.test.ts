import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { uuidv7 } from '@cim/kernel';
import {
  DocumentCommandService,
  DocumentQueryService,
  DocumentStatus,
} from '@cim/proto/cim/document/v1/document_pb';
import {
  StepType,
  WorkflowCommandService,
} from '@cim/proto/cim/workflow/v1/workflow_pb';
import type { RunningService } from '@cim/service';
import {
  consumerSettled,
  countCommits,
  sendCommand,
  sendQuery,
  startNatsServer,
  testLogger,
  type NatsServerHandle,
} from '@cim/testing';
import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
// The workflow package's build, by path: @cim/workflow depends on this
// package (for its own review test), so this one cannot list it back.
import { workflowService } from '@cim/workflow';
import { reviewWorkflowId } from '../src/domain/rules.js';
import { documentService } from '../src/service.js';

const doc = DocumentCommandService.method;
const qry = DocumentQueryService.method;
const wf = WorkflowCommandService.method;

/** The document service's durable consumer on the workflow stream. */
const CONSUMER = 'cim-document-review-outcomes';

describe('documents under review react to the end of their review workflow', () => {
  let server: NatsServerHandle;
  let nc: NatsConnection;
  let documents: RunningService;
  let workflows: RunningService;
  const start = () => documentService.start({ nc, log: testLogger() });

  beforeAll(async () => {
    server = await startNatsServer();
    nc = await connect({ servers: server.url });
    documents = await start();
    workflows = await workflowService.start({ nc, log: testLogger() });
  });

  afterAll(async () => {
    await workflows.stop();
    await documents.stop();
    await nc.close();
    await server.stop();
  });

  /** A new document, under review (round 1). */
  async function underReview() {
    const { aggregateId: documentId } = await sendCommand(
      nc,
      doc.ingestDocumentContent,
      {
        content: new TextEncoder().encode(`draft ${uuidv7()}`),
        hints: { title: 'to review', mimeType: 'text/plain' },
      },
    );
    const { version } = await sendCommand(nc, doc.changeDocumentState, {
      documentId,
      to: DocumentStatus.UNDER_REVIEW,
    });
    return { documentId, version };
  }

  /** A running review workflow for round `round` of the document, with one step. */
  async function reviewWorkflow(documentId: string, round = 1) {
    const workflowId = reviewWorkflowId(round, documentId);
    await sendCommand(nc, wf.createWorkflow, { workflowId, name: 'review' });
    await sendCommand(nc, wf.addStep, {
      workflowId,
      stepId: 'read',
      name: 'read it',
      stepType: StepType.AUTOMATED,
    });
    await sendCommand(nc, wf.startWorkflow, { workflowId });
    return workflowId;
  }

  async function complete(workflowId: string) {
    await sendCommand(nc, wf.startStepExecution, {
      workflowId,
      stepId: 'read',
    });
    await sendCommand(nc, wf.completeStepExecution, {
      workflowId,
      stepId: 'read',
    });
    await sendCommand(nc, wf.completeWorkflow, { workflowId });
  }

  /** The document once its read model has moved past `version`. */
  async function documentAfter(documentId: string, version: bigint) {
    const { document } = await sendQuery(nc, qry.getDocument, {
      documentId,
      minVersion: version + 1n,
    });
    return document;
  }

  /** Waits until the reaction has acknowledged every workflow event so far; answers how many deliveries it repeated. */
  const settled = async () =>
    (await consumerSettled(nc, 'workflow', CONSUMER)).num_redelivered;

  it('publishes the document when its review workflow completes', async () => {
    const { documentId, version } = await underReview();
    await complete(await reviewWorkflow(documentId));
    expect(await documentAfter(documentId, version)).toMatchObject({
      status: DocumentStatus.PUBLISHED,
      reviewRound: 1,
    });
  });

  it('rejects the document when its review workflow fails', async () => {
    const { documentId, version } = await underReview();
    const workflowId = await reviewWorkflow(documentId);
    await sendCommand(nc, wf.failWorkflow, { workflowId, error: 'no quorum' });
    expect((await documentAfter(documentId, version))?.status).toBe(
      DocumentStatus.REJECTED,
    );
  });

  it('rejects the document when its review workflow is cancelled', async () => {
    const { documentId, version } = await underReview();
    const workflowId = reviewWorkflowId(1, documentId);
    await sendCommand(nc, wf.createWorkflow, { workflowId, name: 'review' });
    await sendCommand(nc, wf.cancelWorkflow, { workflowId, reason: 'dropped' });
    expect((await documentAfter(documentId, version))?.status).toBe(
      DocumentStatus.REJECTED,
    );
  });

  it('changes nothing, without retrying, when the document is no longer under review or in another round', async () => {
    const archivedDoc = await underReview();
    const archivedReview = await reviewWorkflow(archivedDoc.documentId);
    await sendCommand(nc, doc.archiveDocument, {
      documentId: archivedDoc.documentId,
    });
    const published = await underReview();
    const publishedReview = await reviewWorkflow(published.documentId);
    await sendCommand(nc, doc.changeDocumentState, {
      documentId: published.documentId,
      to: DocumentStatus.PUBLISHED,
    });
    const later = await underReview();
    const firstRound = await reviewWorkflow(later.documentId, 1);
    await sendCommand(nc, doc.changeDocumentState, {
      documentId: later.documentId,
      to: DocumentStatus.REJECTED,
    });
    await sendCommand(nc, doc.changeDocumentState, {
      documentId: later.documentId,
      to: DocumentStatus.DRAFT,
    });
    const reviewedAgain = await sendCommand(nc, doc.changeDocumentState, {
      documentId: later.documentId,
      to: DocumentStatus.UNDER_REVIEW,
    });
    const redeliveredBefore = await settled();
    const before = await countCommits(nc, 'document');

    await complete(archivedReview);
    await complete(publishedReview);
    await complete(firstRound);

    expect(await settled()).toBe(redeliveredBefore);
    expect(await countCommits(nc, 'document')).toBe(before);
    const { document } = await sendQuery(nc, qry.getDocument, {
      documentId: later.documentId,
      minVersion: reviewedAgain.version,
    });
    expect(document).toMatchObject({
      status: DocumentStatus.UNDER_REVIEW,
      reviewRound: 2,
    });
  });

  it('ignores workflows whose id names no review', async () => {
    const { documentId } = await underReview();
    const workflowId = `wf-${documentId}`;
    await sendCommand(nc, wf.createWorkflow, { workflowId, name: 'other' });
    await sendCommand(nc, wf.cancelWorkflow, { workflowId, reason: 'x' });
    await settled();
    expect(await countCommits(nc, 'document', documentId)).toBe(2);
  });

  it('applies a redelivered workflow end once', async () => {
    const { documentId, version } = await underReview();
    await complete(await reviewWorkflow(documentId));
    const document = await documentAfter(documentId, version);
    await settled();
    const before = await countCommits(nc, 'document');

    // Restart with a fresh durable consumer: every workflow event so far is delivered again.
    await documents.stop();
    const jsm = await jetstreamManager(nc);
    await jsm.consumers.delete('CIM_WORKFLOW', CONSUMER);
    documents = await start();
    expect(await settled()).toBe(0);
    expect(await countCommits(nc, 'document')).toBe(before);
    const { document: after } = await sendQuery(nc, qry.getDocument, {
      documentId,
    });
    expect(after).toEqual(document);
  });
});
