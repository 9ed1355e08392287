/**
 * Closing an execution that a crash interrupted too many times (local mode's durable orchestrator
 * resumes an interrupted execution a few times; one that keeps killing the process is closed here
 * instead). Whatever the workflow touched gets a final state with the reason in the log, through the
 * same tasks its own Catch paths run.
 */
import type { Services, WorkflowName } from '#core/types';
import { markContextualizationFailed } from '#orchestration/contextualize-tasks';
import { recordRemoveFailure, restoreInfrastructure } from '#orchestration/destroy-tasks';
import { markLaunchFailed } from '#orchestration/launch-tasks';
import { recordPowerFailure } from '#orchestration/power-tasks';
import { executionInput, str, type TaskPayload } from '#orchestration/task-support';

export async function closeInterrupted(services: Services, p: TaskPayload): Promise<Record<string, never>> {
  const workflow = str(p, 'workflow') as WorkflowName;
  const input = executionInput(p);
  const error = { Error: 'Interrupted', Cause: str(p, 'reason') };
  switch (workflow) {
    case 'launch':
      await markLaunchFailed(services, { action: 'markLaunchFailed', input, error });
      await markContextualizationFailed(services, { action: 'markContextualizationFailed', input, error });
      break;
    case 'contextualize':
      await markContextualizationFailed(services, { action: 'markContextualizationFailed', input, error });
      break;
    case 'destroy':
      await restoreInfrastructure(services, { action: 'restoreInfrastructure', infId: input.infId, force: input.force === true, error });
      break;
    case 'remove':
      await recordRemoveFailure(services, { action: 'recordRemoveFailure', input, error });
      break;
    case 'stop':
    case 'start':
      await recordPowerFailure(services, { action: 'recordPowerFailure', operation: workflow, input, error });
      break;
  }
  return {};
}
