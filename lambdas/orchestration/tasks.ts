/**
 * The one entry point of every state-machine Task: `runTask(services, {action, ...ids})`.
 * In AWS the tasks Lambda calls it (lambdas/handlers/tasks.ts); locally the in-process orchestrator
 * does. Errors leave through {@link toTaskError}, whose `name` becomes the Step Functions error name
 * (the flows retry `CloudRetryable` and catch the rest).
 */
import { ImError } from '#core/errors';
import { VersionConflictError, type Services } from '#core/types';
import { markContextualizationFailed, prepareContextualization } from '#orchestration/contextualize-tasks';
import { completeDestroy, completeRemove, prepareDestroy, prepareRemove, recordRemoveFailure, restoreInfrastructure } from '#orchestration/destroy-tasks';
import { finalizeBatch } from '#orchestration/finalize-batch';
import { finishLaunch, launchBatch, markBatchFailed, markLaunchFailed, prepareLaunch, refreshBatch, waitForSshBatch } from '#orchestration/launch-tasks';
import { checkPower, preparePower, recordPowerFailure, startVm, stopVm } from '#orchestration/power-tasks';
import { closeInterrupted } from '#orchestration/interrupted-tasks';
import { probeSsh, type SshProbe } from '#orchestration/ssh-probe';
import type { TaskPayload } from '#orchestration/task-support';

export type { TaskPayload } from '#orchestration/task-support';

/** Replaceable side effects of the tasks (tests use a fake SSH). */
export interface TaskDeps {
  sshProbe: SshProbe;
}

const DEFAULT_DEPS: TaskDeps = { sshProbe: probeSsh };

type Handler = (services: Services, payload: TaskPayload, deps: TaskDeps) => Promise<unknown>;

const HANDLERS: Readonly<Record<string, Handler>> = {
  // launch
  prepareLaunch,
  launchBatch,
  refreshBatch,
  waitForSshBatch: (s, p, d) => waitForSshBatch(s, p, d.sshProbe),
  markBatchFailed,
  finishLaunch,
  markLaunchFailed,
  // contextualize
  prepareContextualization,
  markContextualizationFailed,
  // destroy / remove
  prepareDestroy,
  finalizeBatch,
  completeDestroy,
  restoreInfrastructure,
  prepareRemove,
  completeRemove,
  recordRemoveFailure,
  // stop / start
  preparePower,
  stopVm,
  startVm,
  checkPower,
  recordPowerFailure,
  // an execution interrupted too many times (local mode)
  closeInterrupted,
};

/** Every action runTask knows. */
export const TASK_ACTIONS: readonly string[] = Object.keys(HANDLERS);

/**
 * Runs one Task.
 *
 * @param payload `{action, ...}` as the state machine's Parameters.Payload builds it.
 * @returns a JSON-serializable result (the Lambda's Payload).
 * @throws ImError BAD_REQUEST for an unknown action or a malformed payload; anything the action throws.
 */
export async function runTask(services: Services, payload: TaskPayload, deps: Partial<TaskDeps> = {}): Promise<unknown> {
  const action = payload?.action;
  const handler = typeof action === 'string' && Object.hasOwn(HANDLERS, action) ? HANDLERS[action] : undefined;
  if (!handler) throw new ImError('BAD_REQUEST', `Unknown task action: ${String(action)}`);
  services.logger.debug('Task', { action, infId: payload.infId, vmId: payload.vmId });
  return handler(services, payload, { ...DEFAULT_DEPS, ...deps });
}

/** Step Functions error name of a CLOUD_RETRYABLE ImError (the only error the flows retry besides Lambda's own). */
export const CLOUD_RETRYABLE_ERROR = 'CloudRetryable';

/** Longest error message a Task raises (the Cause of each failed Map item stays small). */
export const MAX_TASK_ERROR_MESSAGE = 1000;

/**
 * The error a Task raises: name = the Step Functions error (`CloudRetryable`, `ImError.<CODE>`,
 * `VersionConflict`, else `Error`), message = the original message (clipped). Its stack is just
 * the name, so that the Cause Step Functions records (`{errorType, errorMessage, trace}`) stays
 * small; log the original error for its stack.
 */
export function toTaskError(err: unknown): Error {
  let name = 'Error';
  if (err instanceof ImError) name = err.code === 'CLOUD_RETRYABLE' ? CLOUD_RETRYABLE_ERROR : `ImError.${err.code}`;
  else if (err instanceof VersionConflictError) name = 'VersionConflict';
  const message = err instanceof Error ? err.message : String(err);
  const out = new Error(message.length > MAX_TASK_ERROR_MESSAGE ? `${message.slice(0, MAX_TASK_ERROR_MESSAGE)}…` : message, { cause: err });
  out.name = name;
  out.stack = name;
  return out;
}
