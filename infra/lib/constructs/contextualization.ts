/**
 * Contextualization: the Fargate task that runs Ansible against the VMs (the runner,
 * lambdas/runner/main.ts, in the image built from the repository's Dockerfile), started by the
 * contextualize state machine with `ecs:runTask.sync`.
 *
 * Network, cost-aware: a VPC over two Availability Zones with public subnets only and no NAT
 * gateway (a NAT gateway costs more per month than this whole service at rest). The task gets a
 * public IP, which it needs anyway to reach the VMs over SSH, and reaches ECR and CloudWatch Logs
 * over the internet; DynamoDB goes through a (free) gateway endpoint. Nothing can connect to the
 * task: its security group has no ingress rule. Rejected traffic is logged (VPC flow logs).
 */
import { Arn, ArnFormat, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import type { Platform } from 'aws-cdk-lib/aws-ecr-assets';
import * as ecr from 'aws-cdk-lib/aws-ecr';
import * as ecrAssets from 'aws-cdk-lib/aws-ecr-assets';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { REPO_ROOT } from '../bundling.ts';
import { acknowledge, acknowledgeWildcardResource } from '../nag.ts';
import type { Storage } from './storage.ts';

export const RUNNER_CONTAINER_NAME = 'runner';

export interface ContextualizationProps {
  readonly storage: Storage;
  /** IM options for the runner; TABLE_NAME is added here. */
  readonly environment: Readonly<Record<string, string>>;
  readonly architecture: 'x86_64' | 'arm64';
  readonly logRetention: logs.RetentionDays;
  readonly removalPolicy: RemovalPolicy;
  /**
   * An image pushed beforehand (the `runnerImageUri` context key): a private ECR image of this
   * account, whose repository the execution role may pull from, or a public image.
   * @default the image built from the repository's Dockerfile (a Docker image asset)
   */
  readonly imageUri?: string;
  /** For tests: any image. */
  readonly image?: ecs.ContainerImage;
}

const ECR_IMAGE = /^(\d{12})\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?\/([a-z0-9._/-]+)(?::([\w.-]+)|@(sha256:[a-f0-9]{64}))$/;

export class Contextualization extends Construct {
  readonly vpc: ec2.Vpc;
  readonly cluster: ecs.Cluster;
  readonly taskDefinition: ecs.FargateTaskDefinition;
  readonly container: ecs.ContainerDefinition;
  readonly securityGroup: ec2.SecurityGroup;
  readonly logGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: ContextualizationProps) {
    super(scope, id);

    this.vpc = new ec2.Vpc(this, 'Vpc', {
      maxAzs: 2,
      natGateways: 0,
      subnetConfiguration: [{ name: 'Public', subnetType: ec2.SubnetType.PUBLIC, cidrMask: 24 }],
      // Nothing uses the default security group; restricting it would add a custom-resource Lambda.
      restrictDefaultSecurityGroup: false,
      gatewayEndpoints: { DynamoDb: { service: ec2.GatewayVpcEndpointAwsService.DYNAMODB } },
    });
    const flowLogs = new logs.LogGroup(this, 'FlowLogs', {
      retention: props.logRetention,
      removalPolicy: props.removalPolicy,
    });
    this.vpc.addFlowLog('RejectedTraffic', {
      destination: ec2.FlowLogDestination.toCloudWatchLogs(flowLogs),
      trafficType: ec2.FlowLogTrafficType.REJECT,
    });

    this.securityGroup = new ec2.SecurityGroup(this, 'RunnerSecurityGroup', {
      vpc: this.vpc,
      description: 'IM contextualization runner: no ingress; egress to the VMs (SSH on any port) and AWS APIs',
      allowAllOutbound: true,
    });

    this.cluster = new ecs.Cluster(this, 'Cluster', {
      vpc: this.vpc,
      containerInsightsV2: ecs.ContainerInsights.ENABLED,
    });

    this.logGroup = new logs.LogGroup(this, 'Logs', {
      retention: props.logRetention,
      removalPolicy: props.removalPolicy,
    });

    const arm = props.architecture === 'arm64';
    this.taskDefinition = new ecs.FargateTaskDefinition(this, 'Task', {
      cpu: 1024,
      memoryLimitMiB: 2048,
      runtimePlatform: {
        cpuArchitecture: arm ? ecs.CpuArchitecture.ARM64 : ecs.CpuArchitecture.X86_64,
        operatingSystemFamily: ecs.OperatingSystemFamily.LINUX,
      },
    });
    const platform: Platform = arm ? ecrAssets.Platform.LINUX_ARM64 : ecrAssets.Platform.LINUX_AMD64;
    this.container = this.taskDefinition.addContainer('Runner', {
      containerName: RUNNER_CONTAINER_NAME,
      image:
        props.image ??
        (props.imageUri
          ? this.imageFromUri(props.imageUri)
          : ecs.ContainerImage.fromAsset(REPO_ROOT, { file: 'Dockerfile', platform })),
      logging: ecs.LogDrivers.awsLogs({ logGroup: this.logGroup, streamPrefix: RUNNER_CONTAINER_NAME }),
      environment: {
        ...props.environment,
        TABLE_NAME: props.storage.table.tableName,
        // The VM passwords and keys are sealed in the table with the service key: the runner opens them.
        SECRET_KEY_ARN: props.storage.secretKey.secretArn,
        // lambdas/core/config.ts defaults AWS_REGION to us-east-1: the runner must get the stack's.
        AWS_REGION: Stack.of(this).region,
      },
    });

    // The task role can only read and write the table, and read the sealing key.
    props.storage.grantReadWrite(this.taskDefinition.taskRole);
    props.storage.grantSecretKeyRead(this.taskDefinition.taskRole);

    acknowledge(this.taskDefinition, {
      id: 'AwsSolutions-ECS2',
      reason:
        'The environment holds only non-secret settings (table name, IM options, the ARN of the sealing key); the ' +
        'runner reads the key from Secrets Manager and everything else from the table with its task role.',
    });
    const executionRole = this.taskDefinition.obtainExecutionRole();
    acknowledgeWildcardResource(
      executionRole,
      '*',
      'Standard ECS execution role: ecr:GetAuthorizationToken does not support resource-level permissions.',
    );
  }

  private imageFromUri(uri: string): ecs.ContainerImage {
    const m = ECR_IMAGE.exec(uri);
    if (!m) return ecs.ContainerImage.fromRegistry(uri);
    const [, account, region, name, tag, digest] = m;
    const repository = ecr.Repository.fromRepositoryAttributes(this, 'RunnerRepository', {
      repositoryName: name,
      repositoryArn: Arn.format({
        partition: Stack.of(this).partition,
        service: 'ecr',
        account,
        region,
        resource: 'repository',
        resourceName: name,
      }),
    });
    return ecs.ContainerImage.fromEcrRepository(repository, tag ?? digest);
  }

  /** Public subnets the task runs in (it gets a public IP). */
  get subnetIds(): string[] {
    return this.vpc.publicSubnets.map((s) => s.subnetId);
  }

  /**
   * Lets a state machine run the task with `arn:aws:states:::ecs:runTask.sync`: RunTask on this task
   * definition in this cluster, PassRole of its two roles, stop and describe the tasks it started,
   * and the EventBridge rule that Step Functions manages to learn that a task ended.
   */
  grantRunTaskSync(role: iam.IRole): void {
    this.taskDefinition.grantRun(role);
    const stack = Stack.of(this);
    const clusterName = this.cluster.clusterName;
    const tasksArn = stack.formatArn({
      service: 'ecs',
      resource: 'task',
      resourceName: `${clusterName}/*`,
      arnFormat: ArnFormat.SLASH_RESOURCE_NAME,
    });
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({ actions: ['ecs:StopTask', 'ecs:DescribeTasks'], resources: [tasksArn] }),
    );
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['events:PutTargets', 'events:PutRule', 'events:DescribeRule'],
        resources: [
          Arn.format(
            { service: 'events', resource: 'rule', resourceName: 'StepFunctionsGetEventsForECSTaskRule' },
            stack,
          ),
        ],
      }),
    );
    acknowledgeWildcardResource(
      role,
      tasksArn,
      'Task ids are only known once RunTask returns; the statement is limited to the tasks of this cluster.',
    );
  }
}
