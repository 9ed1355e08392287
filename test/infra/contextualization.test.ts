import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { RemovalPolicy } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { REPO_ROOT, RUNNER_BUNDLE } from '../../infra/lib/bundling.ts';
import { Contextualization, RUNNER_CONTAINER_NAME } from '../../infra/lib/constructs/contextualization.ts';
import { actionsOf, json, logicalId, statementsOfRole, testStack, testStorage } from './helpers.ts';

function build(architecture: 'x86_64' | 'arm64' = 'x86_64', imageUri?: string) {
  const stack = testStack();
  const storage = testStorage(stack);
  new Contextualization(stack, 'Ctxt', {
    storage,
    environment: { LOG_LEVEL: 'DEBUG' },
    architecture,
    imageUri,
    logRetention: RetentionDays.TWO_WEEKS,
    removalPolicy: RemovalPolicy.DESTROY,
  });
  return Template.fromStack(stack);
}

describe('Contextualization construct', () => {
  const template = build();

  it('creates a VPC over two AZs with public subnets only: no NAT gateway, a DynamoDB gateway endpoint', () => {
    template.resourceCountIs('AWS::EC2::VPC', 1);
    template.resourceCountIs('AWS::EC2::Subnet', 2);
    template.resourceCountIs('AWS::EC2::NatGateway', 0);
    template.allResourcesProperties('AWS::EC2::Subnet', { MapPublicIpOnLaunch: true });
    template.hasResourceProperties('AWS::EC2::VPCEndpoint', {
      VpcEndpointType: 'Gateway',
      ServiceName: Match.objectLike({ 'Fn::Join': Match.arrayWith([Match.arrayWith(['.dynamodb'])]) }),
    });
  });

  it('logs rejected VPC traffic', () => {
    template.hasResourceProperties('AWS::EC2::FlowLog', { TrafficType: 'REJECT', LogDestinationType: 'cloud-watch-logs' });
  });

  it('gives the task a security group without ingress', () => {
    const groups = Object.values(template.findResources('AWS::EC2::SecurityGroup'));
    expect(groups).toHaveLength(1);
    expect(groups[0].Properties.SecurityGroupIngress).toBeUndefined();
    template.resourceCountIs('AWS::EC2::SecurityGroupIngress', 0);
  });

  it('creates an ECS cluster with Container Insights', () => {
    template.hasResourceProperties('AWS::ECS::Cluster', {
      ClusterSettings: [{ Name: 'containerInsights', Value: 'enabled' }],
    });
  });

  it('defines a Fargate task from the repository Dockerfile, logging to its own log group', () => {
    template.hasResourceProperties('AWS::ECS::TaskDefinition', {
      RequiresCompatibilities: ['FARGATE'],
      NetworkMode: 'awsvpc',
      Cpu: '1024',
      Memory: '2048',
      RuntimePlatform: { CpuArchitecture: 'X86_64', OperatingSystemFamily: 'LINUX' },
    });
    const task = Object.values(template.findResources('AWS::ECS::TaskDefinition'))[0];
    const [container] = task.Properties.ContainerDefinitions as Record<string, unknown>[];
    expect(container.Name).toBe(RUNNER_CONTAINER_NAME);
    expect(json(container.Image)).toContain('cdk-hnb659fds-container-assets');
    expect(container.LogConfiguration).toMatchObject({
      LogDriver: 'awslogs',
      Options: { 'awslogs-group': { Ref: logicalId(template, 'AWS::Logs::LogGroup', 'CtxtLogs') } },
    });
    expect(container.Environment).toEqual(
      expect.arrayContaining([
        { Name: 'LOG_LEVEL', Value: 'DEBUG' },
        { Name: 'AWS_REGION', Value: { Ref: 'AWS::Region' } },
        { Name: 'TABLE_NAME', Value: { Ref: logicalId(template, 'AWS::DynamoDB::Table', 'StorageTable') } },
      ]),
    );
  });

  it('gives the task role access to the table and the sealing key, and to nothing else', () => {
    const taskRole = logicalId(template, 'AWS::IAM::Role', 'CtxtTaskTaskRole');
    const statements = statementsOfRole(template, taskRole);
    expect(statements.length).toBeGreaterThan(0);
    const tableId = logicalId(template, 'AWS::DynamoDB::Table', 'StorageTable');
    const keyId = logicalId(template, 'AWS::SecretsManager::Secret', 'StorageSecretKey');
    for (const s of statements) {
      const resources = (Array.isArray(s.Resource) ? s.Resource : [s.Resource]).map(json);
      if (actionsOf(s).every((a) => a.startsWith('dynamodb:'))) expect(resources.every((r) => r.includes(tableId))).toBe(true);
      else {
        expect(actionsOf(s).every((a) => a.startsWith('secretsmanager:Get') || a.startsWith('secretsmanager:Describe'))).toBe(true);
        expect(resources.every((r) => r.includes(keyId))).toBe(true);
      }
    }
    expect(statements.flatMap(actionsOf)).toEqual(expect.arrayContaining(['dynamodb:PutItem', 'dynamodb:Query']));
    template.hasResourceProperties('AWS::IAM::Role', {
      AssumeRolePolicyDocument: Match.objectLike({
        Statement: [Match.objectLike({ Principal: { Service: 'ecs-tasks.amazonaws.com' } })],
      }),
      ManagedPolicyArns: Match.absent(),
    });
  });

  it('keeps a standard execution role: pull the image, write the logs', () => {
    const actions = statementsOfRole(template, logicalId(template, 'AWS::IAM::Role', 'CtxtTaskExecutionRole')).flatMap(actionsOf);
    expect(actions).toEqual(expect.arrayContaining(['ecr:GetAuthorizationToken', 'ecr:BatchGetImage', 'logs:PutLogEvents']));
  });

  it('runs an image pushed beforehand to ECR, with pull rights on that repository only', () => {
    const t = build('x86_64', '123456789012.dkr.ecr.eu-west-1.amazonaws.com/im/runner:1.2.3');
    const task = Object.values(t.findResources('AWS::ECS::TaskDefinition'))[0];
    const image = json(task.Properties.ContainerDefinitions[0].Image);
    expect(image).toContain('123456789012.dkr.ecr.eu-west-1.');
    expect(image).toContain('/im/runner:1.2.3');
    expect(image).not.toContain('container-assets');
    const pull = statementsOfRole(t, logicalId(t, 'AWS::IAM::Role', 'CtxtTaskExecutionRole')).find((s) =>
      actionsOf(s).includes('ecr:BatchGetImage'),
    );
    expect(json(pull?.Resource)).toContain(':ecr:eu-west-1:123456789012:repository/im/runner');
  });

  it('runs a public image given by URI as is', () => {
    const t = build('x86_64', 'public.ecr.aws/example/im-runner:latest');
    const task = Object.values(t.findResources('AWS::ECS::TaskDefinition'))[0];
    expect(task.Properties.ContainerDefinitions[0].Image).toBe('public.ecr.aws/example/im-runner:latest');
  });

  it('builds for ARM64 when asked', () => {
    build('arm64').hasResourceProperties('AWS::ECS::TaskDefinition', {
      RuntimePlatform: { CpuArchitecture: 'ARM64', OperatingSystemFamily: 'LINUX' },
    });
  });
});

describe('Dockerfile and .dockerignore', () => {
  const dockerfile = readFileSync(join(REPO_ROOT, 'Dockerfile'), 'utf8');

  it('installs Node, ansible-core, the OpenSSH client and sshpass, and runs the runner bundle', () => {
    expect(dockerfile).toMatch(/^FROM public\.ecr\.aws\/docker\/library\/node:22-bookworm-slim$/m);
    expect(dockerfile).toMatch(/apt-get install .*ansible-core openssh-client sshpass/);
    expect(dockerfile).toContain(`COPY ${RUNNER_BUNDLE.replace('index.mjs', '')}`);
    expect(dockerfile).toMatch(/^USER node$/m);
    expect(dockerfile).toMatch(/^CMD \["node", "\/opt\/im-runner\/index\.mjs"\]$/m);
  });

  it('keeps the build context (and the staged CDK asset) to the Dockerfile and the runner bundle', () => {
    const stack = testStack();
    new Contextualization(stack, 'Ctxt', {
      storage: testStorage(stack),
      environment: {},
      architecture: 'x86_64',
      logRetention: RetentionDays.ONE_DAY,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    const assembly = stack.node.root as unknown as { synth(): { directory: string } };
    const dir = assembly.synth().directory;
    const staged = readdirSync(dir).filter((f) => f.startsWith('asset.') && !f.endsWith('.json'));
    expect(staged).toHaveLength(1);
    const files = readdirSync(join(dir, staged[0]), { recursive: true }).map(String).sort();
    const expected = ['.dockerignore', 'Dockerfile'];
    if (existsSync(join(REPO_ROOT, RUNNER_BUNDLE))) expected.push('dist', 'dist/runner', RUNNER_BUNDLE);
    expect(files.filter((f) => !f.startsWith('dist/runner/') || f === RUNNER_BUNDLE)).toEqual(expected.sort());
  });
});
