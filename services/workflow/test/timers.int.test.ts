import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { timestampFromMs, timestampMs } from '@bufbuild/protobuf/wkt';
import { ErrorCode, decodeCommit, eventSubject, uuidv7 } from '@cim/kernel';
import {
  StepStatus,
  TemplateNodeKind,
  TimerKind,
  WorkflowCommandService,
  WorkflowQueryService,
} from '@cim/proto/cim/workflow/v1/workflow_pb';
import {
  ephemeralKeyring,
  scheduledCommandId,
  type RunningService,
} from '@cim/service';
import {
  countCommits,
  eventually,
  sendCommand,
  sendQuery,
  startNatsServer,
  testLogger,
  type NatsServerHandle,
} from '@cim/testing';
import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { defineWorkflowService, workflowService } from '../src/service.js';

const cmd = WorkflowCommandService.method;
const qry = WorkflowQueryService.method;

/** Polls `probe` until it answers something other than undefined. */
describe('workflow timers over NATS', () => {
  let server: NatsServerHandle;
  let nc: NatsConnection;
  let running: RunningService;
  // Instances of one service share its keys (runMain loads them from the data directory).
  const keyring = ephemeralKeyring();

  beforeAll(async () => {
    server = await startNatsServer();
    nc = await connect({ servers: server.url });
    running = await workflowService.start({ nc, log: testLogger(), keyring });
  });

  afterAll(async () => {
    await running.stop();
    await nc.close();
    await server.stop();
  });

  /** A running workflow s → wait (a timer of `kind`, one second unless told) → e whose timer step has just started. */
  async function timing(
    kind: TimerKind,
    seconds = 1,
  ): Promise<{ workflowId: string; version: bigint }> {
    const workflowId = uuidv7();
    await sendCommand(nc, cmd.createWorkflowFromTemplate, {
      workflowId,
      template: {
        name: 'Timed',
        version: 1,
        nodes: [
          { nodeId: 's', kind: TemplateNodeKind.START, name: 'Start' },
          {
            nodeId: 'wait',
            kind: TemplateNodeKind.TIMER,
            name: 'Wait',
            timer: { kind, seconds },
          },
          { nodeId: 'e', kind: TemplateNodeKind.END, name: 'End' },
        ],
        edges: [
          { from: 's', to: 'wait' },
          { from: 'wait', to: 'e' },
        ],
      },
    });
    await sendCommand(nc, cmd.startWorkflow, { workflowId });
    await sendCommand(nc, cmd.startStepExecution, { workflowId, stepId: 's' });
    await sendCommand(nc, cmd.completeStepExecution, {
      workflowId,
      stepId: 's',
    });
    const { version } = await sendCommand(nc, cmd.startStepExecution, {
      workflowId,
      stepId: 'wait',
    });
    return { workflowId, version };
  }

  /** The timer step once its timer has fired. */
  const fired = ({
    workflowId,
    version,
  }: {
    workflowId: string;
    version: bigint;
  }) =>
    eventually(async () => {
      const { workflow } = await sendQuery(nc, qry.findWorkflow, {
        workflowId,
        minVersion: version,
      });
      const step = workflow?.steps.find((s) => s.stepId === 'wait');
      return step?.timerFiredAt === undefined ? undefined : step;
    }, 'the timer firing');

  async function lastCommit(workflowId: string) {
    const jsm = await jetstreamManager(nc);
    const stored = await jsm.streams.getMessage('CIM_WORKFLOW', {
      last_by_subj: eventSubject('workflow', workflowId),
    });
    if (stored === null) throw new Error(`no commit for ${workflowId}`);
    return decodeCommit(stored.data);
  }

  it('completes a delay timer step by itself once it is due', async () => {
    const started = await timing(TimerKind.DELAY);
    const { workflowId } = started;
    const step = await fired(started);
    expect(step.status).toBe(StepStatus.COMPLETED);
    expect(step.output).toMatchObject({ timer: 'delay' });
    const dueAtMs = timestampMs(step.dueAt!);
    expect(timestampMs(step.timerFiredAt!)).toBeGreaterThanOrEqual(dueAtMs);
    expect(dueAtMs - timestampMs(step.startedAt!)).toBeGreaterThanOrEqual(999);
    const commit = await lastCommit(workflowId);
    expect(commit).toMatchObject({
      actor: 'service:workflow',
      commandId: scheduledCommandId(
        'workflow',
        'timers',
        `${workflowId}/wait/${dueAtMs}`,
      ),
    });
    expect(commit.events.map((e) => e.eventType)).toEqual([
      'StepTimerElapsed',
      'StepExecutionCompleted',
    ]);
    // The flow goes on: the end step can start.
    await sendCommand(nc, cmd.startStepExecution, { workflowId, stepId: 'e' });
  });

  it('fails a deadline timer step that is still running when it is due', async () => {
    const step = await fired(await timing(TimerKind.DEADLINE));
    expect(step.status).toBe(StepStatus.FAILED);
    expect(step.error).toMatch(/^deadline passed at /);
  });

  it('refuses a FireStepTimer sent before the due time, whatever fired_at it names', async () => {
    const { workflowId, version } = await timing(TimerKind.DELAY, 59);
    const { workflow } = await sendQuery(nc, qry.findWorkflow, {
      workflowId,
      minVersion: version,
    });
    const dueAt = workflow?.steps.find((s) => s.stepId === 'wait')?.dueAt;
    const before = await countCommits(nc, 'workflow', workflowId);
    await expect(
      sendCommand(nc, cmd.fireStepTimer, {
        workflowId,
        stepId: 'wait',
        dueAt,
        // The service stamps the time it takes the command instead.
        firedAt: timestampFromMs(timestampMs(dueAt!) + 60_000),
      }),
    ).rejects.toMatchObject({ code: ErrorCode.BUSINESS_RULE_VIOLATION });
    expect(await countCommits(nc, 'workflow', workflowId)).toBe(before);
  });

  it('never fires a timer whose step completed in time', async () => {
    const { workflowId } = await timing(TimerKind.DEADLINE);
    await sendCommand(nc, cmd.completeStepExecution, {
      workflowId,
      stepId: 'wait',
    });
    const before = await countCommits(nc, 'workflow', workflowId);
    // Past the due time and the next tick, nothing more is committed.
    await new Promise((r) => setTimeout(r, 2500));
    expect(await countCommits(nc, 'workflow', workflowId)).toBe(before);
  });

  it('fires a timer once when several instances of the service run', async () => {
    const quick = defineWorkflowService(undefined, 25);
    const instances = await Promise.all(
      [0, 1].map(() =>
        quick.start({ natsUrl: server.url, log: testLogger(), keyring }),
      ),
    );
    try {
      // An SLA stays running after it fires, so every instance keeps looking at it.
      const started = await timing(TimerKind.SLA);
      const { workflowId } = started;
      const step = await fired(started);
      expect(step.status).toBe(StepStatus.RUNNING);
      // Many ticks of every instance later, the timer has fired once.
      await new Promise((r) => setTimeout(r, 1000));
      const commits = await countCommits(nc, 'workflow', workflowId);
      expect(commits).toBe(6);
      expect(
        (await lastCommit(workflowId)).events.map((e) => e.eventType),
      ).toEqual(['StepTimerElapsed']);
    } finally {
      await Promise.all(instances.map((i) => i.stop()));
    }
  });
});
