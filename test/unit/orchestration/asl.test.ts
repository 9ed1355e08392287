import { createRequire } from 'node:module';
import { describe, expect, it, vi } from 'vitest';
import { LambdaClient } from '@aws-sdk/client-lambda';
import {
  ECS_RUN_TASK_SYNC,
  LAMBDA_INVOKE,
  START_EXECUTION_SYNC,
  SUBSTITUTIONS,
  WAIT_STATE_OPTIONS,
  WORKFLOWS,
  forEachState,
  loadDefinition,
  placeholders,
  readAsl,
  substitute,
  taskAction,
  type AslDefinition,
  type AslState,
} from '#orchestration/asl';
import { TASK_ACTIONS } from '#orchestration/tasks';
import { mapLocalTasks, localStateMachineArn } from '#local/local-orchestrator';
import { makeEnv, nodesRadl, runFlow, seedInfra } from './fixtures';

type AslValidator = (def: unknown, opts?: { checkArn?: boolean; checkPaths?: boolean }) => { isValid: boolean; errorsText: (sep?: string) => string };
const aslValidator = createRequire(import.meta.url)('asl-validator') as AslValidator;

const FAKE_VALUES = Object.fromEntries(SUBSTITUTIONS.map((n) => [n, `arn:aws:states:us-east-1:123456789012:stateMachine:${n}`]));
FAKE_VALUES.TasksFunctionArn = 'arn:aws:lambda:us-east-1:123456789012:function:im-tasks';

const defs = Object.fromEntries(WORKFLOWS.map((w) => [w, loadDefinition(w, FAKE_VALUES)])) as Record<string, AslDefinition>;

function states(def: AslDefinition): [string, AslState][] {
  const out: [string, AslState][] = [];
  forEachState(def, (name, state) => out.push([name, state]));
  return out;
}

describe('ASL files', () => {
  it.each(WORKFLOWS)('%s is valid ASL before and after substitution', (w) => {
    const raw = JSON.parse(readAsl(w));
    for (const def of [raw, defs[w]]) {
      const { isValid, errorsText } = aslValidator(def, { checkArn: true, checkPaths: true });
      expect(isValid, errorsText('\n')).toBe(true);
    }
  });

  it('uses exactly the placeholders listed in SUBSTITUTIONS', () => {
    const used = new Set(WORKFLOWS.flatMap((w) => placeholders(readAsl(w))));
    expect([...used].sort()).toEqual([...SUBSTITUTIONS].sort());
    expect(() => substitute('"${Nope}"', FAKE_VALUES)).toThrow(/Nope/);
  });

  it.each(WORKFLOWS)('%s: state names are unique, across nesting levels', (w) => {
    const names = states(defs[w]).map(([n]) => n);
    expect(new Set(names).size).toBe(names.length);
  });

  it.each(WORKFLOWS)('%s: every Lambda Task names a known action, has a timeout, retries only Lambda errors, CloudRetryable or a store outage', (w) => {
    for (const [name, s] of states(defs[w])) {
      if (s.Type !== 'Task') continue;
      expect([LAMBDA_INVOKE, START_EXECUTION_SYNC, ECS_RUN_TASK_SYNC], name).toContain(s.Resource);
      if (s.Resource === LAMBDA_INVOKE) {
        expect(TASK_ACTIONS, name).toContain(taskAction(s));
        expect((s.Parameters as { FunctionName: string }).FunctionName).toBe(FAKE_VALUES.TasksFunctionArn);
      }
      expect(typeof s.TimeoutSeconds, name).toBe('number');
      for (const r of s.Retry ?? []) {
        for (const e of r.ErrorEquals) expect(e.startsWith('Lambda.') || e === 'CloudRetryable' || e === 'ImError.STORE_UNAVAILABLE', `${name}: ${e}`).toBe(true);
      }
      // A store outage (503) never ends a Lambda Task: it is retried for minutes, with backoff.
      if (s.Resource === LAMBDA_INVOKE) {
        const outage = (s.Retry ?? []).find((r) => r.ErrorEquals.includes('ImError.STORE_UNAVAILABLE'));
        expect(outage, name).toBeDefined();
        expect((outage!.MaxAttempts ?? 3) * (outage!.IntervalSeconds ?? 1), name).toBeGreaterThanOrEqual(20);
      }
    }
  });

  it.each(WORKFLOWS)('%s: every Task and Map has a Catch, and each Catch leads to a state that records the failure', (w) => {
    const all = new Map(states(defs[w]));
    for (const [name, s] of all) {
      if (s.Type !== 'Task' && s.Type !== 'Map') continue;
      expect(s.Catch?.length, name).toBeGreaterThan(0);
      for (const c of s.Catch ?? []) {
        expect(c.ErrorEquals).toContain('States.ALL');
        const target = all.get(c.Next)!;
        // A Task that writes the final state, a Fail reached only when that Task itself failed,
        // or the Pass that hands a finalize / stop / start error to the check step.
        const ok =
          target.Type === 'Task' ||
          (target.Type === 'Fail' && /Mark|Record|Restore/.test(name)) ||
          (target.Type === 'Pass' && /Failed$/.test(c.Next));
        expect(ok, `${name} → ${c.Next}`).toBe(true);
      }
    }
  });

  it.each(WORKFLOWS)('%s: every Wait state has a configured duration and reads it from the state', (w) => {
    for (const [name, s] of states(defs[w])) {
      if (s.Type !== 'Wait') continue;
      expect(Object.keys(WAIT_STATE_OPTIONS), name).toContain(name);
      expect(s.SecondsPath, name).toMatch(/^\$\.plan\./);
    }
  });

  it('launch runs each batch of VMs as a child execution (distributed Map) with MaxConcurrencyPath', () => {
    const map = defs.launch.States.LaunchBatches;
    expect(map.ItemsPath).toBe('$.plan.batches');
    expect((map.ItemProcessor as AslDefinition & { ProcessorConfig: unknown }).ProcessorConfig).toEqual({ Mode: 'DISTRIBUTED', ExecutionType: 'STANDARD' });
    expect(map.MaxConcurrencyPath).toBe('$.plan.maxConcurrency');
    expect(map.ResultPath).toBeNull();
    expect(defs.launch.States.Contextualize.Resource).toBe(START_EXECUTION_SYNC);
  });

  it('contextualize runs the contextualization runner as an ECS RunTask .sync on Fargate, with the input as overrides', () => {
    const run = defs.contextualize.States.RunContextualizationAgent;
    expect(run.Resource).toBe(ECS_RUN_TASK_SYNC);
    expect(run.Parameters).toMatchObject({
      LaunchType: 'FARGATE',
      Cluster: FAKE_VALUES.ClusterArn,
      TaskDefinition: FAKE_VALUES.TaskDefinitionArn,
      NetworkConfiguration: {
        AwsvpcConfiguration: { 'Subnets.$': `States.StringSplit('${FAKE_VALUES.Subnets}', ',')`, SecurityGroups: [FAKE_VALUES.SecurityGroup] },
      },
      Overrides: {
        ContainerOverrides: [
          {
            Name: FAKE_VALUES.ContainerName,
            Environment: [
              { Name: 'INF_ID', 'Value.$': '$$.Execution.Input.infId' },
              { Name: 'CTXT_INPUT', 'Value.$': 'States.JsonToString($$.Execution.Input)' },
            ],
          },
        ],
      },
    });
    expect(run.Catch?.[0].Next).toBe('MarkContextualizationFailed');
    expect(defs.contextualize.States.NeedsAgent.Choices?.[0].Next).toBe('RunContextualizationAgent');
  });
});

describe('local mapping of Tasks', () => {
  it('maps every Task of every workflow to a local function', () => {
    const env = makeEnv();
    for (const w of WORKFLOWS) {
      for (const [name, s] of states(defs[w])) {
        if (s.Type !== 'Task') continue;
        const target = env.orchestrator.taskMappings.get(`${w}/${name}`);
        expect(target, `${w}/${name}`).toBeDefined();
        expect(target).toBe(s.Resource === LAMBDA_INVOKE ? 'runTask' : s.Resource === ECS_RUN_TASK_SYNC ? 'ecsRunTask' : 'workflow:contextualize');
      }
    }
  });

  it('refuses a definition with a Task it cannot run locally', () => {
    const arnToWorkflow = new Map(WORKFLOWS.map((w) => [localStateMachineArn(w), w] as const));
    const direct: AslDefinition = {
      StartAt: 'T',
      States: { T: { Type: 'Task', Resource: 'arn:aws:lambda:us-east-1:123456789012:function:x', End: true } },
    };
    expect(() => mapLocalTasks('launch', direct, arnToWorkflow)).toThrow(/would call AWS/);
    const sqs: AslDefinition = {
      StartAt: 'T',
      States: { T: { Type: 'Task', Resource: 'arn:aws:states:::sqs:sendMessage', End: true } },
    };
    expect(() => mapLocalTasks('launch', sqs, arnToWorkflow)).toThrow(/no local mapping/);
    const wait: AslDefinition = { StartAt: 'W', States: { W: { Type: 'Wait', Seconds: 5, End: true } } };
    expect(() => mapLocalTasks('launch', wait, arnToWorkflow)).toThrow(/configured duration/);
  });

  it('never calls AWS Lambda while running every flow', async () => {
    const send = vi.spyOn(LambdaClient.prototype, 'send').mockImplementation(() => {
      throw new Error('AWS called');
    });
    try {
      const env = makeEnv();
      const { infId, vmIds } = await seedInfra(env.services, nodesRadl(2));
      expect((await runFlow(env, 'launch', { infId, vmIds })).status).toBe('SUCCEEDED');
      expect((await runFlow(env, 'stop', { infId })).status).toBe('SUCCEEDED');
      expect((await runFlow(env, 'start', { infId })).status).toBe('SUCCEEDED');
      expect((await runFlow(env, 'contextualize', { infId })).status).toBe('SUCCEEDED');
      expect((await runFlow(env, 'remove', { infId, vmIds: [1] })).status).toBe('SUCCEEDED');
      expect((await runFlow(env, 'destroy', { infId })).status).toBe('SUCCEEDED');
      expect(send).not.toHaveBeenCalled();
    } finally {
      send.mockRestore();
    }
  });
});
