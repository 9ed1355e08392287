import { describe, expect, it, vi } from 'vitest';
import { mockClient } from 'aws-sdk-client-mock';
import { DescribeExecutionCommand, SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { DummyConnector } from '#connectors/dummy';
import { ImError } from '#core/errors';
import type { LaunchedVm, LaunchRequest } from '#core/types';
import { VersionConflictError, type WorkflowName } from '#core/types';
import { createSfnOrchestrator } from '#orchestration/sfn-orchestrator';
import { runTask, toTaskError, TASK_ACTIONS } from '#orchestration/tasks';
import { makeEnv, nodesRadl, runFlow, seedInfra } from './fixtures';

const ARNS = Object.fromEntries(
  (['launch', 'destroy', 'remove', 'stop', 'start', 'contextualize'] as WorkflowName[]).map((w) => [w, `arn:aws:states:us-east-1:1:stateMachine:im-${w}`]),
) as Record<WorkflowName, string>;

describe('sfn orchestrator', () => {
  it('starts executions with the ids only', async () => {
    const sfn = mockClient(SFNClient);
    sfn.on(StartExecutionCommand).resolves({ executionArn: 'arn:exec:1', startDate: new Date() });
    const o = createSfnOrchestrator({ client: new SFNClient({ region: 'us-east-1' }), arns: ARNS });
    expect(await o.start('destroy', { infId: 'i1', force: true })).toBe('arn:exec:1');
    const call = sfn.commandCalls(StartExecutionCommand)[0].args[0].input;
    expect(call).toEqual({ stateMachineArn: ARNS.destroy, input: '{"infId":"i1","force":true}' });
    sfn.restore();
  });

  it('wait polls DescribeExecution until the execution ends or the timeout passes', async () => {
    const sfn = mockClient(SFNClient);
    sfn
      .on(DescribeExecutionCommand)
      .resolvesOnce({ status: 'RUNNING' } as never)
      .resolvesOnce({ status: 'RUNNING' } as never)
      .resolves({ status: 'FAILED', error: 'DestroyFailed', cause: 'Error destroying the infrastructure: x' } as never);
    const o = createSfnOrchestrator({ client: new SFNClient({ region: 'us-east-1' }), arns: ARNS, pollMs: 5 });
    expect(await o.wait('arn:exec:1', 5000)).toBe('FAILED');
    expect(sfn.commandCalls(DescribeExecutionCommand)).toHaveLength(3);
    expect(await o.describe('arn:exec:1')).toEqual({ status: 'FAILED', error: 'DestroyFailed', cause: 'Error destroying the infrastructure: x' });
    sfn.reset();
    sfn.on(DescribeExecutionCommand).resolves({ status: 'RUNNING' } as never);
    const t0 = Date.now();
    expect(await o.wait('arn:exec:2', 60)).toBe('RUNNING');
    expect(Date.now() - t0).toBeLessThan(1000);
    sfn.reset();
    sfn.on(DescribeExecutionCommand).resolves({ status: 'SUCCEEDED', output: '{"ok":true}' } as never);
    expect(await o.describe('arn:exec:3')).toEqual({ status: 'SUCCEEDED', output: { ok: true } });
    sfn.restore();
  });
});

describe('local orchestrator', () => {
  it('wait returns RUNNING at the timeout, then the final status; describe gives output or error', async () => {
    class SlowDummy extends DummyConnector {
      override async launch(req: LaunchRequest): Promise<LaunchedVm> {
        await new Promise((r) => setTimeout(r, 100));
        return super.launch(req);
      }
    }
    const env = makeEnv({ connectors: [new SlowDummy()] });
    const { infId, vmIds } = await seedInfra(env.services, nodesRadl(1));
    const id = await env.orchestrator.start('launch', { infId, vmIds });
    expect(await env.orchestrator.wait(id, 0)).toBe('RUNNING');
    expect(await env.orchestrator.wait(id, 10_000)).toBe('SUCCEEDED');
    expect(await env.orchestrator.describe(id)).toEqual({ status: 'SUCCEEDED', output: expect.anything() });
    await expect(env.orchestrator.wait('nope', 1)).rejects.toThrow(/Unknown execution/);
  });

  it('a failing execution never crashes the process: it is logged and reported', async () => {
    const env = makeEnv();
    const lines: unknown[] = [];
    env.services.logger = { debug() {}, info: (m, f) => lines.push([m, f]), warn() {}, error: (m, f) => lines.push([m, f]) };
    const unhandled = vi.fn();
    process.on('unhandledRejection', unhandled);
    // A launch into a missing infrastructure does nothing; a malformed input fails the flow.
    const r = await runFlow(env, 'launch', { infId: 'missing', vmIds: [0] });
    expect(r.status).toBe('SUCCEEDED');
    const bad = await runFlow(env, 'stop', { infId: 'missing', vmIds: 'x' as never });
    expect(bad).toMatchObject({ status: 'FAILED', error: 'StopFailed' });
    await env.orchestrator.idle();
    process.off('unhandledRejection', unhandled);
    expect(unhandled).not.toHaveBeenCalled();
    expect(lines.length).toBeGreaterThan(0);
  });
});

describe('runTask / toTaskError', () => {
  it('rejects unknown actions and malformed payloads with BAD_REQUEST', async () => {
    const env = makeEnv();
    await expect(runTask(env.services, { action: 'nope' })).rejects.toMatchObject({ code: 'BAD_REQUEST' });
    await expect(runTask(env.services, { action: 'toString' })).rejects.toMatchObject({ code: 'BAD_REQUEST' });
    await expect(runTask(env.services, { action: 'refreshBatch', infId: 'x', vmIds: [1], deadline: 'one' })).rejects.toMatchObject({ code: 'BAD_REQUEST' });
    expect(TASK_ACTIONS).toContain('launchBatch');
  });

  it('names errors for Step Functions: CloudRetryable, ImError.<CODE>, VersionConflict, Error', () => {
    expect(toTaskError(new ImError('CLOUD_RETRYABLE', 'slow down'))).toMatchObject({ name: 'CloudRetryable', message: 'slow down' });
    expect(toTaskError(new ImError('BAD_REQUEST', 'bad'))).toMatchObject({ name: 'ImError.BAD_REQUEST' });
    expect(toTaskError(new VersionConflictError()).name).toBe('VersionConflict');
    expect(toTaskError(new TypeError('x')).name).toBe('Error');
    expect(toTaskError('text').message).toBe('text');
  });
});

describe('toTaskError bounds', () => {
  it('clips long messages and keeps no stack (small Causes in Map results)', () => {
    const e = toTaskError(new Error('x'.repeat(5000)));
    expect(e.message.length).toBeLessThanOrEqual(1001);
    expect(e.stack).toBe('Error');
  });
});
