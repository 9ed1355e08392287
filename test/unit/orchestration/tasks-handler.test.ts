import { describe, expect, it } from 'vitest';
import { createTasksHandler } from '#handlers/tasks';
import { makeEnv } from './fixtures';

const handler = createTasksHandler(makeEnv().services);

describe('tasks Lambda handler', () => {
  it('runs the action with the services it was built with', async () => {
    const plan = await handler({ action: 'prepareLaunch', input: { infId: 'i', vmIds: [2, 1] } });
    expect(plan).toMatchObject({ batches: [[1, 2]], maxConcurrency: 1, launchConcurrency: 5 });
  });

  it('raises errors named for Step Functions', async () => {
    await expect(handler({ action: 'nope' })).rejects.toMatchObject({ name: 'ImError.BAD_REQUEST', message: 'Unknown task action: nope' });
  });
});
