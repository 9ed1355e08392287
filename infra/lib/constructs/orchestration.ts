/**
 * Orchestration: one Step Functions state machine per workflow, loaded from
 * statemachines/<workflow>.asl.json with DefinitionSubstitutions, logging (ALL, with execution
 * data) and X-Ray tracing on.
 *
 * The permissions of each state machine are derived from its definition: every Task state's
 * integration is mapped to the grant it needs (Lambda invoke → the tasks function; nested
 * `states:startExecution[.sync]` → the target state machine; `ecs:runTask[.sync]` → the
 * contextualization task; a distributed Map → its own child executions). A definition that uses
 * any other integration, or a placeholder nobody fills, fails synth.
 *
 * The state machines have fixed names, `<stackName>-<workflow>`, so that their ARNs are known
 * without referencing the resources: the functions get them in their environment (and the tasks
 * function is referenced by the state machines) without a dependency cycle.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Arn, ArnFormat, Fn, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import type { WorkflowName } from '#core/types';
import { STATE_MACHINES_DIR, WORKFLOWS, forEachState, placeholders, type AslDefinition } from '#orchestration/asl';
import { acknowledgeWildcardResource } from '../nag.ts';
import type { Contextualization } from './contextualization.ts';

export { WORKFLOWS };

/** `${ContextualizeStateMachineArn}` and the like. */
export const stateMachineArnPlaceholder = (workflow: WorkflowName): string =>
  `${workflow[0].toUpperCase()}${workflow.slice(1)}StateMachineArn`;

/**
 * The placeholders this construct fills: the tasks function, every state machine, and what an
 * `ecs:runTask` state needs to start the contextualization task (Subnets is comma-separated, for
 * `States.StringSplit('${Subnets}', ',')`; AssignPublicIp is ENABLED: the subnets are public).
 */
export const PROVIDED_SUBSTITUTIONS = [
  'TasksFunctionArn',
  ...WORKFLOWS.map(stateMachineArnPlaceholder),
  'ClusterArn',
  'TaskDefinitionArn',
  'ContainerName',
  'SecurityGroup',
  'Subnets',
  'AssignPublicIp',
] as const;

/** What a definition needs, read from its Task and Map states. */
export interface DefinitionNeeds {
  invokesTasksFunction: boolean;
  /** Workflows started as nested executions, and whether the parent waits for them (.sync). */
  startsWorkflows: { workflow: WorkflowName; sync: boolean }[];
  runsEcsTask: boolean;
  /** A distributed Map: the state machine starts child executions of itself. */
  distributedMap: boolean;
}

const LAMBDA_INVOKE = /^arn:aws:states:::lambda:invoke(\.waitForTaskToken)?$/;
const START_EXECUTION = /^arn:aws:states:::states:startExecution(\.sync(:2)?|\.waitForTaskToken)?$/;
const ECS_RUN_TASK = /^arn:aws:states:::ecs:runTask(\.sync|\.waitForTaskToken)?$/;

/** Reads the needs of a definition; throws on an integration this construct cannot grant. */
export function analyzeDefinition(workflow: string, definition: string): DefinitionNeeds {
  const needs: DefinitionNeeds = {
    invokesTasksFunction: false,
    startsWorkflows: [],
    runsEcsTask: false,
    distributedMap: false,
  };
  forEachState(JSON.parse(definition) as AslDefinition, (name, state) => {
    const where = `${workflow}: state ${name}`;
    if (state.Type === 'Map') {
      const processor = state.ItemProcessor as { ProcessorConfig?: { Mode?: string } } | undefined;
      if (processor?.ProcessorConfig?.Mode === 'DISTRIBUTED') needs.distributedMap = true;
    }
    if (state.Type !== 'Task') return;
    const resource = state.Resource ?? '';
    if (LAMBDA_INVOKE.test(resource) || resource === '${TasksFunctionArn}') {
      const fn = resource === '${TasksFunctionArn}' ? resource : state.Parameters?.FunctionName;
      if (fn !== '${TasksFunctionArn}') throw new Error(`${where}: Lambda tasks must call \${TasksFunctionArn}`);
      needs.invokesTasksFunction = true;
    } else if (START_EXECUTION.test(resource)) {
      const target = String(state.Parameters?.StateMachineArn ?? '');
      const child = WORKFLOWS.find((w) => target === `\${${stateMachineArnPlaceholder(w)}}`);
      if (!child) throw new Error(`${where}: StateMachineArn must be one of the \${<Workflow>StateMachineArn} placeholders`);
      needs.startsWorkflows.push({ workflow: child, sync: resource.includes('.sync') });
    } else if (ECS_RUN_TASK.test(resource)) {
      needs.runsEcsTask = true;
    } else {
      throw new Error(`${where}: integration '${resource}' is not granted by the orchestration construct`);
    }
  });
  return needs;
}

export interface OrchestrationProps {
  /** State machine names are `<namePrefix>-<workflow>`. */
  readonly namePrefix: string;
  readonly tasksFunction: lambda.IFunction;
  /** The Fargate task that contextualize runs; needed when a definition uses ecs:runTask. */
  readonly contextualization: Contextualization;
  readonly logRetention: logs.RetentionDays;
  readonly removalPolicy: RemovalPolicy;
  /** @default statemachines/ of the repository */
  readonly definitionsDir?: string;
}

export class Orchestration extends Construct {
  readonly stateMachines: Record<WorkflowName, sfn.StateMachine>;
  readonly logGroup: logs.LogGroup;
  private readonly namePrefix: string;

  /** The ARN of a workflow's state machine, built from its name (no reference to the resource). */
  static stateMachineArn(scope: Construct, namePrefix: string, workflow: WorkflowName): string {
    return Stack.of(scope).formatArn({
      service: 'states',
      resource: 'stateMachine',
      resourceName: `${namePrefix}-${workflow}`,
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    });
  }

  /** `STATE_MACHINE_ARN_PREFIX`: append the workflow name to get its state machine ARN. */
  static stateMachineArnPrefix(scope: Construct, namePrefix: string): string {
    return Stack.of(scope).formatArn({
      service: 'states',
      resource: 'stateMachine',
      resourceName: `${namePrefix}-`,
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    });
  }

  /** `STATE_MACHINE_ARNS`: `{"launch": "<arn>", …}` as JSON. */
  static stateMachineArnsJson(scope: Construct, namePrefix: string): string {
    const arns = Object.fromEntries(WORKFLOWS.map((w) => [w, Orchestration.stateMachineArn(scope, namePrefix, w)]));
    return Stack.of(scope).toJsonString(arns);
  }

  constructor(scope: Construct, id: string, props: OrchestrationProps) {
    super(scope, id);
    this.namePrefix = props.namePrefix;
    const ctxt = props.contextualization;

    this.logGroup = new logs.LogGroup(this, 'Logs', {
      retention: props.logRetention,
      removalPolicy: props.removalPolicy,
    });

    const values: Record<string, string> = {
      TasksFunctionArn: props.tasksFunction.functionArn,
      ClusterArn: ctxt.cluster.clusterArn,
      TaskDefinitionArn: ctxt.taskDefinition.taskDefinitionArn,
      ContainerName: ctxt.container.containerName,
      SecurityGroup: ctxt.securityGroup.securityGroupId,
      Subnets: Fn.join(',', ctxt.subnetIds),
      AssignPublicIp: 'ENABLED',
    };
    for (const w of WORKFLOWS) values[stateMachineArnPlaceholder(w)] = this.arnOf(w);

    const machines: Partial<Record<WorkflowName, sfn.StateMachine>> = {};
    for (const workflow of WORKFLOWS) {
      const file = join(props.definitionsDir ?? STATE_MACHINES_DIR, `${workflow}.asl.json`);
      const definition = readFileSync(file, 'utf8');
      const missing = placeholders(definition).filter((p) => !(p in values));
      if (missing.length > 0) {
        throw new Error(`${file}: no value for placeholder(s) ${missing.map((p) => `\${${p}}`).join(', ')}`);
      }
      const definitionSubstitutions = Object.fromEntries(placeholders(definition).map((p) => [p, values[p]]));

      const sm = new sfn.StateMachine(this, pascal(workflow), {
        stateMachineName: `${props.namePrefix}-${workflow}`,
        stateMachineType: sfn.StateMachineType.STANDARD,
        definitionBody: sfn.DefinitionBody.fromFile(file),
        definitionSubstitutions,
        logs: { destination: this.logGroup, level: sfn.LogLevel.ALL, includeExecutionData: true },
        tracingEnabled: true,
      });
      machines[workflow] = sm;
      this.grantNeeds(sm, workflow, analyzeDefinition(workflow, definition), props);
      acknowledgeWildcardResource(
        sm.role,
        '*',
        'X-Ray tracing (xray:PutTraceSegments, …) and CloudWatch Logs delivery (logs:CreateLogDelivery, …) ' +
          'do not support resource-level permissions.',
      );
    }
    this.stateMachines = machines as Record<WorkflowName, sfn.StateMachine>;
  }

  /** The state machine ARN of a workflow (by name). */
  arnOf(workflow: WorkflowName): string {
    return Orchestration.stateMachineArn(this, this.namePrefix, workflow);
  }

  /** Start any workflow. */
  grantStartExecution(grantee: iam.IGrantable): iam.Grant {
    return iam.Grant.addToPrincipal({
      grantee,
      actions: ['states:StartExecution'],
      resourceArns: WORKFLOWS.map((w) => this.arnOf(w)),
    });
  }

  /** Follow the executions of any workflow (Orchestrator.wait → DescribeExecution). */
  grantReadExecutions(grantee: iam.IGrantable): iam.Grant {
    const grant = iam.Grant.addToPrincipal({
      grantee,
      actions: ['states:DescribeExecution'],
      resourceArns: WORKFLOWS.map((w) => this.executionsArn(w)),
    });
    const principal = grantee.grantPrincipal;
    if (principal instanceof Construct) {
      for (const w of WORKFLOWS) {
        acknowledgeWildcardResource(
          principal,
          this.executionsArn(w),
          `Execution ids are generated when an execution starts; the statement covers the executions of the ${w} state machine only.`,
        );
      }
    }
    return grant;
  }

  /** `arn:…:execution:<name>:*`: every execution of a workflow's state machine. */
  private executionsArn(workflow: WorkflowName, separator: ':' | '/' = ':'): string {
    return Stack.of(this).formatArn({
      service: 'states',
      resource: 'execution',
      resourceName: `${this.namePrefix}-${workflow}${separator}*`,
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    });
  }

  private grantNeeds(sm: sfn.StateMachine, workflow: WorkflowName, needs: DefinitionNeeds, props: OrchestrationProps) {
    const role = sm.role;
    if (needs.invokesTasksFunction) {
      props.tasksFunction.grantInvoke(role);
      acknowledgeWildcardResource(
        role,
        `${props.tasksFunction.functionArn}:*`,
        'lambda:InvokeFunction on the versions and aliases of the tasks function (the grant covers <arn>:*); no other function.',
      );
    }
    for (const child of needs.startsWorkflows) {
      role.addToPrincipalPolicy(
        new iam.PolicyStatement({ actions: ['states:StartExecution'], resources: [this.arnOf(child.workflow)] }),
      );
      if (child.sync) {
        role.addToPrincipalPolicy(
          new iam.PolicyStatement({
            actions: ['states:DescribeExecution', 'states:StopExecution'],
            resources: [this.executionsArn(child.workflow)],
          }),
        );
        role.addToPrincipalPolicy(
          new iam.PolicyStatement({
            actions: ['events:PutTargets', 'events:PutRule', 'events:DescribeRule'],
            resources: [
              Arn.format(
                { service: 'events', resource: 'rule', resourceName: 'StepFunctionsGetEventsForStepFunctionsExecutionRule' },
                Stack.of(this),
              ),
            ],
          }),
        );
        acknowledgeWildcardResource(
          role,
          this.executionsArn(child.workflow),
          `${workflow} waits for the nested ${child.workflow} executions it starts (startExecution.sync); their ids are generated at start.`,
        );
      }
    }
    if (needs.distributedMap) {
      // A distributed Map runs each item as a child execution of this very state machine.
      role.addToPrincipalPolicy(
        new iam.PolicyStatement({ actions: ['states:StartExecution'], resources: [this.arnOf(workflow)] }),
      );
      role.addToPrincipalPolicy(
        new iam.PolicyStatement({
          actions: ['states:DescribeExecution', 'states:StopExecution'],
          resources: [this.executionsArn(workflow, '/')],
        }),
      );
      acknowledgeWildcardResource(
        role,
        this.executionsArn(workflow, '/'),
        `The distributed Map of ${workflow} starts one child execution per VM (<name>/<map run>:<id>); their ids are generated at run time.`,
      );
    }
    if (needs.runsEcsTask) props.contextualization.grantRunTaskSync(role);
  }
}

function pascal(s: string): string {
  return `${s[0].toUpperCase()}${s.slice(1)}`;
}
