/**
 * The Lambda behind every state-machine Task (`arn:aws:states:::lambda:invoke` with a Payload
 * `{action, ...ids}`): runs the task with the AWS composition root. A thrown error's name is the
 * Step Functions error name (`CloudRetryable` is retried by the flows).
 */
import { ImError } from '#core/errors';
import { getServices } from '#handlers/bootstrap';
import { runTask, toTaskError, type TaskPayload } from '#orchestration/tasks';

/** Lambda entry point. */
export async function handler(event: TaskPayload): Promise<unknown> {
  const services = await getServices();
  try {
    return await runTask(services, event);
  } catch (err) {
    const stack = err instanceof Error && !(err instanceof ImError) ? err.stack : undefined;
    services.logger.warn('Task failed', { action: event?.action, infId: event?.infId, vmId: event?.vmId, error: err, stack });
    throw toTaskError(err);
  }
}
