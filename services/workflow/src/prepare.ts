import { timestampNow } from '@bufbuild/protobuf/wkt';
import type { WorkflowCommand } from '@cim/proto/cim/workflow/v1/workflow_pb';

/**
 * The clock at the edge: stamps StartStepExecution and FireStepTimer with the
 * time the service takes them, replacing any a client (or the timer schedule)
 * sent, so that a timer step's due time is recorded in its
 * StepExecutionStarted and the pure decider checks a FireStepTimer against
 * the service's clock: no command can fire a timer early by naming a later
 * time. Other commands pass unchanged.
 */
export function prepare(command: WorkflowCommand): WorkflowCommand {
  const { body } = command;
  if (body.case === 'startStepExecution') body.value.startedAt = timestampNow();
  else if (body.case === 'fireStepTimer') body.value.firedAt = timestampNow();
  return command;
}
