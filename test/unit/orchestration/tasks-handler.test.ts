import { describe, expect, it, vi } from 'vitest';
import { makeEnv } from './fixtures';

const env = makeEnv();
vi.mock('#handlers/bootstrap', () => ({ getServices: async () => env.services }));

const { handler } = await import('#handlers/tasks');

describe('tasks Lambda handler', () => {
  it('runs the action with the composition root', async () => {
    const plan = await handler({ action: 'prepareLaunch', input: { infId: 'i', vmIds: [2, 1] } });
    expect(plan).toMatchObject({ vmIds: [1, 2], maxConcurrency: 5 });
  });

  it('raises errors named for Step Functions', async () => {
    await expect(handler({ action: 'nope' })).rejects.toMatchObject({ name: 'ImError.BAD_REQUEST', message: 'Unknown task action: nope' });
  });
});
