import { createRequire } from 'node:module';
import { mkdtempSync, readFileSync, writeFileSync, cpSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { RemovalPolicy, type Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { WorkflowName } from '#core/types';
import { SUBSTITUTIONS, WORKFLOWS, aslPath, placeholders, substitute } from '#orchestration/asl';
import { Contextualization } from '../../infra/lib/constructs/contextualization.ts';
import {
  Orchestration,
  PROVIDED_SUBSTITUTIONS,
  analyzeDefinition,
  stateMachineArnPlaceholder,
} from '../../infra/lib/constructs/orchestration.ts';
import { FIXTURE_STATE_MACHINES, actionsOf, json, logicalId, statementsOfRole, testStack, testStorage } from './helpers.ts';

type AslValidator = (definition: unknown, options?: { checkPaths?: boolean; checkArn?: boolean }) => {
  isValid: boolean;
  errors: { message?: string }[];
};
const validateAsl = createRequire(import.meta.url)('asl-validator') as AslValidator;

function build(definitionsDir?: string, extend?: (stack: Stack, orchestration: Orchestration) => void) {
  const stack = testStack();
  const storage = testStorage(stack);
  const tasks = new lambda.Function(stack, 'TasksFn', {
    runtime: lambda.Runtime.NODEJS_22_X,
    handler: 'index.handler',
    code: lambda.Code.fromInline('exports.handler = async () => ({});'),
  });
  const contextualization = new Contextualization(stack, 'Ctxt', {
    storage,
    environment: {},
    architecture: 'x86_64',
    logRetention: RetentionDays.ONE_WEEK,
    removalPolicy: RemovalPolicy.DESTROY,
    image: ecs.ContainerImage.fromRegistry('public.ecr.aws/docker/library/node:22-bookworm-slim'),
  });
  const orchestration = new Orchestration(stack, 'Orchestration', {
    namePrefix: 'Test',
    tasksFunction: tasks,
    contextualization,
    logRetention: RetentionDays.ONE_WEEK,
    removalPolicy: RemovalPolicy.DESTROY,
    definitionsDir,
  });
  extend?.(stack, orchestration);
  return { stack, orchestration, template: Template.fromStack(stack) };
}

/** The role logical id of a state machine, by workflow. */
function roleOf(template: Template, workflow: WorkflowName): string {
  const sm = Object.values(template.findResources('AWS::StepFunctions::StateMachine')).find(
    (r) => r.Properties.StateMachineName === `Test-${workflow}`,
  );
  return (sm?.Properties.RoleArn as { 'Fn::GetAtt': string[] })['Fn::GetAtt'][0];
}

const SAMPLE_VALUES: Record<string, string> = Object.fromEntries(
  PROVIDED_SUBSTITUTIONS.map((name) => [name, `arn:aws:states:eu-west-1:123456789012:stateMachine:sample-${name}`]),
);

describe('state machine definitions (statemachines/*.asl.json)', () => {
  it.each([...WORKFLOWS])('%s is valid ASL, before and after substitution', (workflow) => {
    const text = readFileSync(aslPath(workflow), 'utf8');
    const raw = validateAsl(JSON.parse(text));
    expect(raw.errors).toEqual([]);
    const substituted = validateAsl(JSON.parse(substitute(text, SAMPLE_VALUES)));
    expect(substituted.errors).toEqual([]);
    expect(raw.isValid && substituted.isValid).toBe(true);
  });

  it('uses only placeholders the construct fills', () => {
    for (const name of SUBSTITUTIONS) expect(PROVIDED_SUBSTITUTIONS).toContain(name);
    for (const workflow of WORKFLOWS) {
      for (const p of placeholders(readFileSync(aslPath(workflow), 'utf8'))) expect(PROVIDED_SUBSTITUTIONS).toContain(p);
    }
  });

  it('uses only integrations the construct can grant', () => {
    for (const workflow of WORKFLOWS) {
      expect(() => analyzeDefinition(workflow, readFileSync(aslPath(workflow), 'utf8'))).not.toThrow();
    }
  });
});

describe('Orchestration construct', () => {
  const { template } = build();
  const tasksFn = logicalId(template, 'AWS::Lambda::Function', 'TasksFn');

  it('creates one standard state machine per workflow, named <prefix>-<workflow>', () => {
    template.resourceCountIs('AWS::StepFunctions::StateMachine', WORKFLOWS.length);
    for (const w of WORKFLOWS) {
      template.hasResourceProperties('AWS::StepFunctions::StateMachine', {
        StateMachineName: `Test-${w}`,
        StateMachineType: 'STANDARD',
      });
    }
  });

  it('logs ALL events with execution data to a log group, and traces with X-Ray', () => {
    const logGroup = logicalId(template, 'AWS::Logs::LogGroup', 'OrchestrationLogs');
    for (const sm of Object.values(template.findResources('AWS::StepFunctions::StateMachine'))) {
      expect(sm.Properties.TracingConfiguration).toEqual({ Enabled: true });
      expect(sm.Properties.LoggingConfiguration).toMatchObject({ Level: 'ALL', IncludeExecutionData: true });
      expect(json(sm.Properties.LoggingConfiguration.Destinations)).toContain(logGroup);
    }
  });

  it('loads each ASL file with a substitution for each of its placeholders', () => {
    for (const w of WORKFLOWS) {
      const sm = Object.values(template.findResources('AWS::StepFunctions::StateMachine')).find(
        (r) => r.Properties.StateMachineName === `Test-${w}`,
      )!;
      const text = readFileSync(aslPath(w), 'utf8');
      // DefinitionBody.fromFile: the file is an S3 asset, substituted by CloudFormation.
      expect(sm.Properties.DefinitionS3Location).toMatchObject({ Bucket: expect.anything(), Key: expect.stringMatching(/\.json$/) });
      const subs = sm.Properties.DefinitionSubstitutions as Record<string, unknown>;
      expect(Object.keys(subs ?? {}).sort()).toEqual(placeholders(text).sort());
      if (subs?.TasksFunctionArn) expect(subs.TasksFunctionArn).toEqual({ 'Fn::GetAtt': [tasksFn, 'Arn'] });
      if (subs?.ContextualizeStateMachineArn) expect(json(subs.ContextualizeStateMachineArn)).toContain(':stateMachine:Test-contextualize');
    }
  });

  it('lets every state machine invoke the tasks function, and nothing else of Lambda', () => {
    for (const w of WORKFLOWS) {
      const statements = statementsOfRole(template, roleOf(template, w));
      const invoke = statements.filter((s) => actionsOf(s).includes('lambda:InvokeFunction'));
      expect(invoke).toHaveLength(1);
      expect(json(invoke[0].Resource)).toContain(tasksFn);
      expect(json(invoke[0].Resource)).not.toMatch(/"\*"/);
    }
  });

  it('lets launch run contextualize as a nested .sync execution and its distributed Map children', () => {
    const statements = statementsOfRole(template, roleOf(template, 'launch'));
    const start = statements.filter((s) => actionsOf(s).includes('states:StartExecution'));
    expect(json(start)).toContain(':stateMachine:Test-contextualize');
    const follow = statements.filter((s) => actionsOf(s).includes('states:DescribeExecution'));
    expect(json(follow)).toContain(':execution:Test-contextualize:*');
    expect(json(statements)).toContain('rule/StepFunctionsGetEventsForStepFunctionsExecutionRule');
    const launchDef = readFileSync(aslPath('launch'), 'utf8');
    if (analyzeDefinition('launch', launchDef).distributedMap) {
      expect(json(start)).toContain(':stateMachine:Test-launch');
      expect(json(follow)).toContain(':execution:Test-launch/*');
    }
  });

  it('gives the other state machines no Step Functions permission they do not use', () => {
    for (const w of WORKFLOWS) {
      const needs = analyzeDefinition(w, readFileSync(aslPath(w), 'utf8'));
      const actions = statementsOfRole(template, roleOf(template, w)).flatMap(actionsOf);
      expect(actions.includes('states:StartExecution')).toBe(needs.startsWorkflows.length > 0 || needs.distributedMap);
      expect(actions.includes('ecs:RunTask')).toBe(needs.runsEcsTask);
    }
  });

  it('grants starting and following workflows by ARN, without wildcard actions', () => {
    const { template: t } = build(undefined, (stack, orchestration) => {
      const role = new iam.Role(stack, 'Api', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
      orchestration.grantStartExecution(role);
      orchestration.grantReadExecutions(role);
    });
    const statements = statementsOfRole(t, logicalId(t, 'AWS::IAM::Role', 'Api'));
    expect(statements.flatMap(actionsOf).sort()).toEqual(['states:DescribeExecution', 'states:StartExecution']);
    for (const w of WORKFLOWS) {
      expect(json(statements)).toContain(`:stateMachine:Test-${w}"`);
      expect(json(statements)).toContain(`:execution:Test-${w}:*`);
    }
  });

  it('exposes the ARNs by name: STATE_MACHINE_ARN_PREFIX + workflow = the state machine ARN', () => {
    const { stack, orchestration } = build();
    const resolve = (v: string) => json(stack.resolve(v));
    const prefix = resolve(Orchestration.stateMachineArnPrefix(stack, 'Test'));
    for (const w of WORKFLOWS) {
      expect(resolve(orchestration.arnOf(w))).toBe(prefix.replace(':stateMachine:Test-"', `:stateMachine:Test-${w}"`));
    }
    const arns = resolve(Orchestration.stateMachineArnsJson(stack, 'Test'));
    for (const w of WORKFLOWS) expect(arns).toContain(`\\"${w}\\":`);
  });
});

describe('Orchestration construct with an ECS RunTask definition (fixtures)', () => {
  const { template } = build(FIXTURE_STATE_MACHINES);

  it('fills the ECS placeholders from the contextualization construct', () => {
    const sm = Object.values(template.findResources('AWS::StepFunctions::StateMachine')).find(
      (r) => r.Properties.StateMachineName === 'Test-contextualize',
    )!;
    const subs = sm.Properties.DefinitionSubstitutions as Record<string, unknown>;
    expect(json(subs.ClusterArn)).toContain(logicalId(template, 'AWS::ECS::Cluster', 'CtxtCluster'));
    expect(json(subs.TaskDefinitionArn)).toContain(logicalId(template, 'AWS::ECS::TaskDefinition', 'CtxtTask'));
    expect(subs.ContainerName).toBe('runner');
    expect(json(subs.SecurityGroup)).toContain('CtxtRunnerSecurityGroup');
    expect(json(subs.Subnets)).toContain('Fn::Join');
  });

  it('lets contextualize run the task (.sync): RunTask, PassRole of its roles, stop/describe its tasks, the ECS rule', () => {
    const statements = statementsOfRole(template, roleOf(template, 'contextualize'));
    const byAction = (a: string) => statements.filter((s) => actionsOf(s).includes(a));
    expect(json(byAction('ecs:RunTask'))).toContain(logicalId(template, 'AWS::ECS::TaskDefinition', 'CtxtTask'));
    const passRole = json(byAction('iam:PassRole'));
    expect(passRole).toContain('CtxtTaskTaskRole');
    expect(passRole).toContain('CtxtTaskExecutionRole');
    expect(json(byAction('ecs:StopTask'))).toContain(':task/');
    expect(json(byAction('ecs:DescribeTasks'))).toContain(logicalId(template, 'AWS::ECS::Cluster', 'CtxtCluster'));
    expect(json(byAction('events:PutRule'))).toContain('rule/StepFunctionsGetEventsForECSTaskRule');
  });
});

describe('Orchestration construct refuses definitions it cannot deploy', () => {
  const withDefinition = (workflow: WorkflowName, definition: object): string => {
    const dir = mkdtempSync(join(tmpdir(), 'im-asl-'));
    cpSync(FIXTURE_STATE_MACHINES, dir, { recursive: true });
    writeFileSync(join(dir, `${workflow}.asl.json`), JSON.stringify(definition));
    return dir;
  };
  const task = (state: object) => ({ StartAt: 'T', States: { T: { Type: 'Task', End: true, ...state } } });

  it('a placeholder without a value', () => {
    const dir = withDefinition('stop', task({ Resource: 'arn:aws:states:::lambda:invoke', Parameters: { FunctionName: '${Unknown}' } }));
    expect(() => build(dir)).toThrow(/no value for placeholder\(s\) \$\{Unknown\}/);
  });

  it('an integration it does not grant', () => {
    const dir = withDefinition('stop', task({ Resource: 'arn:aws:states:::aws-sdk:ec2:terminateInstances', Parameters: {} }));
    expect(() => build(dir)).toThrow(/integration 'arn:aws:states:::aws-sdk:ec2:terminateInstances' is not granted/);
  });

  it('a Lambda task on another function, or a nested execution of an unknown machine', () => {
    expect(() =>
      analyzeDefinition('x', JSON.stringify(task({ Resource: 'arn:aws:states:::lambda:invoke', Parameters: { FunctionName: 'other' } }))),
    ).toThrow(/must call \$\{TasksFunctionArn\}/);
    expect(() =>
      analyzeDefinition(
        'x',
        JSON.stringify(task({ Resource: 'arn:aws:states:::states:startExecution', Parameters: { StateMachineArn: 'arn:x' } })),
      ),
    ).toThrow(/StateMachineArn must be one of/);
    expect(stateMachineArnPlaceholder('contextualize')).toBe('ContextualizeStateMachineArn');
  });
});
