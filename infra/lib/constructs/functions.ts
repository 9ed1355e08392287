/**
 * Functions: the Lambda functions of the service, one esbuild bundle per handler
 * (lambdas/handlers/*.ts), nodejs22.x on ARM64, X-Ray tracing, a log group each with a retention,
 * and a role of their own that can only write to that log group until a grant adds more.
 */
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { join } from 'node:path';
import { API_GATEWAY_TIMEOUT_SECONDS } from '../config.ts';
import {
  HANDLER_ENTRIES,
  LAMBDA_BUNDLING,
  REPO_ROOT,
  entryExists,
  entryPath,
  type HandlerName,
} from '../bundling.ts';
import { acknowledge, acknowledgeWildcardResource } from '../nag.ts';
import type { Storage } from './storage.ts';
import type { OidcClientSecret } from './oidc.ts';

/**
 * `bundle`: NodejsFunction with esbuild (what is deployed). `stub`: a one-line inline function,
 * for the unit tests of single constructs, which do not need real bundles.
 */
export type FunctionCode = 'bundle' | 'stub';

export interface HandlerFunctionProps {
  readonly handler: HandlerName;
  readonly description: string;
  readonly memorySize: number;
  readonly timeout: Duration;
  readonly environment: Readonly<Record<string, string>>;
  readonly logRetention: logs.RetentionDays;
  readonly removalPolicy: RemovalPolicy;
  /** @default 'bundle' */
  readonly code?: FunctionCode;
}

/** One handler: the function, its log group and its role. */
export class HandlerFunction extends Construct {
  readonly function: lambda.Function;
  readonly logGroup: logs.LogGroup;
  readonly role: iam.Role;

  constructor(scope: Construct, id: string, props: HandlerFunctionProps) {
    super(scope, id);

    this.logGroup = new logs.LogGroup(this, 'Logs', {
      retention: props.logRetention,
      removalPolicy: props.removalPolicy,
    });
    this.role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `IM ${props.handler} function`,
    });
    this.logGroup.grantWrite(this.role);

    const common = {
      description: props.description,
      runtime: lambda.Runtime.NODEJS_22_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize: props.memorySize,
      timeout: props.timeout,
      tracing: lambda.Tracing.ACTIVE,
      logGroup: this.logGroup,
      role: this.role,
      environment: { NODE_OPTIONS: '--enable-source-maps', ...props.environment },
    };

    if ((props.code ?? 'bundle') === 'bundle') {
      if (!entryExists(props.handler)) {
        throw new Error(`Cannot bundle the ${props.handler} function: ${HANDLER_ENTRIES[props.handler]} does not exist`);
      }
      this.function = new nodejs.NodejsFunction(this, 'Function', {
        ...common,
        entry: entryPath(props.handler),
        handler: 'handler',
        projectRoot: REPO_ROOT,
        depsLockFilePath: join(REPO_ROOT, 'package-lock.json'),
        bundling: LAMBDA_BUNDLING,
      });
    } else {
      this.function = new lambda.Function(this, 'Function', {
        ...common,
        handler: 'index.handler',
        code: lambda.Code.fromInline('exports.handler = async () => ({ statusCode: 501, body: "stub" });'),
      });
    }

    acknowledge(this.function, {
      id: 'AwsSolutions-L1',
      reason:
        'The project targets nodejs22.x on purpose (docs/DEPLOY.md): it is the Node.js line the code, ' +
        'the local mode and the bundles (esbuild target node22) are tested with.',
    });
    acknowledgeWildcardResource(
      this.role,
      '*',
      'X-Ray active tracing: xray:PutTraceSegments and xray:PutTelemetryRecords do not support resource-level permissions.',
    );
  }
}

export interface FunctionsProps {
  readonly storage: Storage;
  /** IM options and state machine ARNs; the table name and the secret ARN are added here. */
  readonly environment: Readonly<Record<string, string>>;
  readonly logRetention: logs.RetentionDays;
  readonly removalPolicy: RemovalPolicy;
  /** @default 'bundle' */
  readonly code?: FunctionCode;
  /** OIDC_CLIENT_SECRET in Secrets Manager: the API functions get its ARN and read access, nothing else does. */
  readonly oidcClientSecret?: OidcClientSecret;
}

/** The functions behind the APIs and the state machines (the purge function lives in Purge). */
export class Functions extends Construct {
  /** REST API (API Gateway v1 proxy events). */
  readonly rest: HandlerFunction;
  /** XML-RPC API (POST /xmlrpc, POST /RPC2). */
  readonly xmlrpc: HandlerFunction;
  /** Every Task state of the state machines (`{action, …}` payloads). */
  readonly tasks: HandlerFunction;

  constructor(scope: Construct, id: string, props: FunctionsProps) {
    super(scope, id);
    const environment = {
      ...props.environment,
      TABLE_NAME: props.storage.table.tableName,
      SECRET_KEY_ARN: props.storage.secretKey.secretArn,
    };
    const shared = {
      environment,
      logRetention: props.logRetention,
      removalPolicy: props.removalPolicy,
      code: props.code,
    };
    // API Gateway gives up after 29 s; the API functions stop at the same time.
    const apiTimeout = Duration.seconds(API_GATEWAY_TIMEOUT_SECONDS);
    // Only the API functions sign users in (the tasks function works on ids).
    const api = props.oidcClientSecret
      ? { ...shared, environment: { ...environment, OIDC_CLIENT_SECRET_ARN: props.oidcClientSecret.secret.secretArn } }
      : shared;

    this.rest = new HandlerFunction(this, 'Rest', {
      ...api,
      handler: 'rest',
      description: 'IM REST API',
      memorySize: 1024,
      timeout: apiTimeout,
    });
    this.xmlrpc = new HandlerFunction(this, 'XmlRpc', {
      ...api,
      handler: 'xmlrpc',
      description: 'IM XML-RPC API',
      memorySize: 1024,
      timeout: apiTimeout,
    });
    this.tasks = new HandlerFunction(this, 'Tasks', {
      ...shared,
      handler: 'tasks',
      description: 'IM state machine tasks',
      memorySize: 1024,
      timeout: Duration.minutes(5),
    });

    for (const fn of [this.rest, this.xmlrpc, this.tasks]) {
      props.storage.grantReadWrite(fn.role);
      props.storage.grantSecretKeyRead(fn.role);
    }
    for (const fn of [this.rest, this.xmlrpc]) props.oidcClientSecret?.grantRead(fn.role);
  }

  get all(): HandlerFunction[] {
    return [this.rest, this.xmlrpc, this.tasks];
  }
}
