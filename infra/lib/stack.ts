/**
 * The IM stack: it only assembles the constructs (one per concern, infra/lib/constructs/) and
 * wires their grants and outputs. Configuration comes validated from infra/lib/config.ts.
 */
import { App, CfnOutput, Fn, RemovalPolicy, Stack, Validations, type StackProps } from 'aws-cdk-lib';
import type * as ecs from 'aws-cdk-lib/aws-ecs';
import type { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { Construct } from 'constructs';
import { loadInfraConfig, type InfraConfig } from './config.ts';
import { Api, OPENAPI_PATH } from './constructs/api.ts';
import { Contextualization } from './constructs/contextualization.ts';
import { Functions, type FunctionCode } from './constructs/functions.ts';
import { Observability } from './constructs/observability.ts';
import { Orchestration, WORKFLOWS } from './constructs/orchestration.ts';
import { Purge } from './constructs/purge.ts';
import { Storage } from './constructs/storage.ts';
import { OidcClientSecret } from './constructs/oidc.ts';

export interface ImStackProps extends StackProps {
  readonly config: InfraConfig;
  /** @default 'bundle' (esbuild); 'stub' only for tests that do not need the real bundles */
  readonly code?: FunctionCode;
  /** @default the image built from the repository's Dockerfile */
  readonly runnerImage?: ecs.ContainerImage;
  /** @default statemachines/ */
  readonly definitionsDir?: string;
}

export class ImStack extends Stack {
  readonly storage: Storage;
  readonly functions: Functions;
  readonly contextualization: Contextualization;
  readonly orchestration: Orchestration;
  readonly api: Api;
  readonly purge: Purge;
  readonly observability: Observability;
  /** OIDC_CLIENT_SECRET (when OIDC_CLIENT_ID or oidcClientSecretArn is set). */
  readonly oidcClientSecret?: OidcClientSecret;
  private readonly zones?: string[];

  constructor(scope: Construct, id: string, props: ImStackProps) {
    const { config } = props;
    super(scope, id, {
      ...props,
      stackName: config.stackName,
      description: 'Infrastructure Manager (IM), serverless: API Gateway, Lambda, Step Functions, DynamoDB, Fargate',
      env: config.account && config.region ? { account: config.account, region: config.region } : props.env,
    });
    this.zones = config.availabilityZones?.length ? config.availabilityZones : undefined;

    const removalPolicy = config.removalPolicy === 'destroy' ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN;
    const logRetention = config.logRetentionDays as RetentionDays;
    const im = config.im;

    this.storage = new Storage(this, 'Storage', { tableName: config.tableName, removalPolicy });
    if (im.OIDC_CLIENT_ID || config.oidcClientSecretArn) {
      this.oidcClientSecret = new OidcClientSecret(this, 'OidcClientSecret', { secretArn: config.oidcClientSecretArn, removalPolicy });
    }

    this.functions = new Functions(this, 'Functions', {
      storage: this.storage,
      environment: {
        ...config.imEnvironment,
        MAX_BODY_SIZE: String(im.MAX_BODY_SIZE),
        DELETED_RETENTION_DAYS: String(im.DELETED_RETENTION_DAYS),
        STATE_MACHINE_ARN_PREFIX: Orchestration.stateMachineArnPrefix(this, config.stackName),
        STATE_MACHINE_ARNS: Orchestration.stateMachineArnsJson(this, config.stackName),
      },
      logRetention,
      removalPolicy,
      code: props.code,
      oidcClientSecret: this.oidcClientSecret,
    });

    this.contextualization = new Contextualization(this, 'Contextualization', {
      storage: this.storage,
      environment: config.imEnvironment,
      architecture: config.runnerArchitecture,
      logRetention,
      removalPolicy,
      imageUri: config.runnerImageUri,
      image: props.runnerImage,
    });

    this.orchestration = new Orchestration(this, 'Orchestration', {
      namePrefix: config.stackName,
      tasksFunction: this.functions.tasks.function,
      contextualization: this.contextualization,
      logRetention,
      removalPolicy,
      definitionsDir: props.definitionsDir,
    });
    for (const api of [this.functions.rest, this.functions.xmlrpc]) {
      this.orchestration.grantStartExecution(api.role);
      this.orchestration.grantReadExecutions(api.role);
    }

    this.api = new Api(this, 'Api', {
      restFunction: this.functions.rest.function,
      xmlrpcFunction: this.functions.xmlrpc.function,
      throttling: { rateLimit: config.throttlingRateLimit, burstLimit: config.throttlingBurstLimit },
      cors: { enabled: im.ENABLE_CORS, origin: im.CORS_ORIGIN },
      logRetention,
      removalPolicy,
    });

    this.purge = new Purge(this, 'Purge', {
      storage: this.storage,
      schedule: config.purgeSchedule,
      retentionDays: im.DELETED_RETENTION_DAYS,
      purgeBefore: config.purgeBefore,
      environment: config.imEnvironment,
      logRetention,
      removalPolicy,
      code: props.code,
    });

    this.observability = new Observability(this, 'Observability', {
      dashboardName: config.stackName,
      functions: {
        Rest: this.functions.rest.function,
        XmlRpc: this.functions.xmlrpc.function,
        Tasks: this.functions.tasks.function,
        Purge: this.purge.handler.function,
      },
      stateMachines: this.orchestration.stateMachines,
      restApi: this.api.restApi,
      table: this.storage.table,
      alarmTopicArn: config.alarmTopicArn,
    });

    const output = (id: string, value: string, description: string) => new CfnOutput(this, id, { value, description });
    output('ApiUrl', this.api.url, 'REST API base URL (im_client.py -r <this URL>)');
    output('XmlRpcUrl', this.api.xmlrpcUrl, 'XML-RPC endpoint (also POST <ApiUrl>RPC2)');
    output('OpenApiUrl', this.api.restApi.urlForPath(OPENAPI_PATH), 'OpenAPI description of the REST API');
    output('TableName', this.storage.table.tableName, 'DynamoDB table');
    output('SecretKeyArn', this.storage.secretKey.secretArn, 'Secrets Manager secret with the credential-sealing key');
    if (this.oidcClientSecret) {
      output('OidcClientSecretArn', this.oidcClientSecret.secret.secretArn, 'Secrets Manager secret with OIDC_CLIENT_SECRET (put the client secret in it)');
    }
    for (const w of WORKFLOWS) {
      output(`${w[0].toUpperCase()}${w.slice(1)}StateMachineArn`, this.orchestration.stateMachines[w].stateMachineArn, `${w} workflow`);
    }
    output('ClusterArn', this.contextualization.cluster.clusterArn, 'ECS cluster of the contextualization task');
    output('RunnerTaskDefinitionArn', this.contextualization.taskDefinition.taskDefinitionArn, 'Contextualization task');
    output('DashboardName', this.observability.dashboard.dashboardName, 'CloudWatch dashboard');
  }

  /**
   * The VPC's two Availability Zones. Without `availabilityZones` in the context they are the first
   * two of the region as CloudFormation resolves them (Fn::GetAZs), even with an explicit env, so
   * that synth never needs an AWS lookup (and no cdk.context.json).
   */
  override get availabilityZones(): string[] {
    return this.zones ?? [Fn.select(0, Fn.getAzs()), Fn.select(1, Fn.getAzs())];
  }
}

export interface ImAppOptions {
  /** CDK context (what cdk.json "context" and -c give the CLI). */
  readonly context?: Record<string, unknown>;
  readonly outdir?: string;
  readonly code?: FunctionCode;
  readonly runnerImage?: ecs.ContainerImage;
  readonly definitionsDir?: string;
}

/** The app: config from the context, the stack, and the cdk-nag AWS Solutions checks (synth fails on a finding). */
export function createImApp(options: ImAppOptions = {}): { app: App; stack: ImStack; config: InfraConfig } {
  const app = new App({ context: options.context, outdir: options.outdir });
  const config = loadInfraConfig(app.node.getAllContext());
  const stack = new ImStack(app, config.stackName, {
    config,
    code: options.code,
    runnerImage: options.runnerImage,
    definitionsDir: options.definitionsDir,
  });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return { app, stack, config };
}
