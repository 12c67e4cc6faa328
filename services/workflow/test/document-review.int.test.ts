import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { documentService } from '@cim/document';
import { uuidv7 } from '@cim/kernel';
import {
  DocumentCommandService,
  DocumentStatus,
} from '@cim/proto/cim/document/v1/document_pb';
import {
  StepStatus,
  StepType,
  WorkflowCommandService,
  WorkflowQueryService,
} from '@cim/proto/cim/workflow/v1/workflow_pb';
import type { RunningService } from '@cim/service';
import {
  sendCommand,
  sendQuery,
  startNatsServer,
  testLogger,
  type NatsServerHandle,
} from '@cim/testing';
import type { NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { workflowService } from '../src/service.js';

const cmd = WorkflowCommandService.method;
const qry = WorkflowQueryService.method;
const doc = DocumentCommandService.method;

describe('a workflow step that awaits a document review', () => {
  let server: NatsServerHandle;
  let nc: NatsConnection;
  let documents: RunningService;
  let workflows: RunningService;

  beforeAll(async () => {
    server = await startNatsServer();
    nc = await connect({ servers: server.url });
    documents = await documentService.start({ nc, log: testLogger() });
    workflows = await workflowService.start({ nc, log: testLogger() });
  });

  afterAll(async () => {
    await workflows.stop();
    await documents.stop();
    await nc.close();
    await server.stop();
  });

  /** A running workflow whose one step awaits the review of a new document under review. */
  async function awaitingReview() {
    const { aggregateId: documentId } = await sendCommand(
      nc,
      doc.ingestDocumentContent,
      {
        content: new TextEncoder().encode(`draft ${uuidv7()}`),
        hints: { title: 'to review', mimeType: 'text/plain' },
      },
    );
    await sendCommand(nc, doc.changeDocumentState, {
      documentId,
      to: DocumentStatus.UNDER_REVIEW,
    });
    const workflowId = uuidv7();
    await sendCommand(nc, cmd.createWorkflow, { workflowId, name: 'review' });
    await sendCommand(nc, cmd.addStep, {
      workflowId,
      stepId: 'review',
      name: 'review',
      stepType: StepType.INTEGRATION,
    });
    await sendCommand(nc, cmd.startWorkflow, { workflowId });
    await sendCommand(nc, cmd.startStepExecution, {
      workflowId,
      stepId: 'review',
    });
    const requested = await sendCommand(nc, cmd.requestCrossDomainOperation, {
      workflowId,
      stepId: 'review',
      targetDomain: 'document',
      operation: 'document.ChangeDocumentState',
    });
    return {
      documentId,
      workflowId,
      correlationId: `wf:${workflowId}:review:${requested.commandId}`,
      version: requested.version,
    };
  }

  /** The review step once the workflow has moved past `version`. */
  async function stepAfter(workflowId: string, version: bigint) {
    const { workflow } = await sendQuery(nc, qry.findWorkflow, {
      workflowId,
      minVersion: version + 1n,
    });
    return workflow?.steps.find((s) => s.stepId === 'review');
  }

  it('completes the step when the reviewer publishes the document', async () => {
    const { documentId, workflowId, correlationId, version } =
      await awaitingReview();
    await sendCommand(
      nc,
      doc.changeDocumentState,
      { documentId, to: DocumentStatus.PUBLISHED },
      { correlationId },
    );
    expect(await stepAfter(workflowId, version)).toMatchObject({
      status: StepStatus.COMPLETED,
      awaitingCorrelationId: '',
    });
  });

  it('fails the step, saying why, when the reviewer rejects it', async () => {
    const { documentId, workflowId, correlationId, version } =
      await awaitingReview();
    await sendCommand(
      nc,
      doc.changeDocumentState,
      { documentId, to: DocumentStatus.REJECTED },
      { correlationId },
    );
    expect(await stepAfter(workflowId, version)).toMatchObject({
      status: StepStatus.FAILED,
      error: `document ${documentId} was rejected in review`,
    });
  });
});
