/**
 * The Lambda behind every state-machine Task (`arn:aws:states:::lambda:invoke` with a Payload
 * `{action, ...ids}`). A thrown error's name is the Step Functions error name (`CloudRetryable`
 * and `StoreUnavailable` are retried by the flows).
 */
import { ImError } from '#core/errors';
import type { Services } from '#core/types';
import { runTask, toTaskError, type TaskPayload } from '#orchestration/tasks';
import type { Context } from 'aws-lambda';
import { lambdaEntry } from '#handlers/aws';
import { withLogContext } from '#handlers/log-context';

export function createTasksHandler(services: Services): (event: TaskPayload, context?: Context) => Promise<unknown> {
  return withLogContext(async (event: TaskPayload) => {
    try {
      return await runTask(services, event);
    } catch (err) {
      const stack = err instanceof Error && !(err instanceof ImError) ? err.stack : undefined;
      services.logger.warn('Task failed', { action: event?.action, infId: event?.infId, vmId: event?.vmId, error: err, stack });
      throw toTaskError(err);
    }
  }) as (event: TaskPayload, context?: Context) => Promise<unknown>;
}

/** Lambda entry point. */
export const handler = lambdaEntry(createTasksHandler);
