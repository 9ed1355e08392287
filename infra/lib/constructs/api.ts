/**
 * API: one API Gateway REST API (regional) for both IM APIs.
 *  - IM's REST paths (REST_PATHS) → the REST function, Lambda proxy integration, method ANY: the
 *    handler routes by method itself, so that a wrong method gets IM's 405 and OPTIONS gets the
 *    CORS preflight answer when ENABLE_CORS is on, exactly as in local mode. A greedy `/{proxy+}`
 *    sends every other path to the handler too (IM's 404).
 *  - `POST /xmlrpc` and `POST /RPC2` → the XML-RPC function.
 *  - `GET /openapi.yaml` → the OpenAPI description (openapi/im-rest.yaml), served by a Mock
 *    integration: no function, no bucket.
 * The stage has throttling, JSON access logs, execution logs (errors only, never bodies) and X-Ray.
 * Bodies are capped by the handlers (MAX_BODY_SIZE), below API Gateway's hard 10 MB.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { RemovalPolicy } from 'aws-cdk-lib';
import * as apigw from 'aws-cdk-lib/aws-apigateway';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { REPO_ROOT } from '../bundling.ts';
import { acknowledge } from '../nag.ts';

/** IM's REST paths (every intermediate path is routed as well). */
export const REST_PATHS = [
  '/',
  '/version',
  '/infrastructures',
  '/infrastructures/{infId}',
  '/infrastructures/{infId}/{prop}',
  '/infrastructures/{infId}/vms/{vmId}',
  '/infrastructures/{infId}/vms/{vmId}/{prop}',
  '/infrastructures/{infId}/vms/{vmId}/disks/{diskNum}/snapshot',
  '/clouds/{cloudId}/{param}',
  '/stats',
  '/oai',
  '/static/{proxy+}',
  '/{proxy+}',
] as const;

/** XML-RPC endpoints (POST only). */
export const XMLRPC_PATHS = ['/xmlrpc', '/RPC2'] as const;

/** Where the OpenAPI description is served. */
export const OPENAPI_PATH = '/openapi.yaml';
export const OPENAPI_FILE = join(REPO_ROOT, 'openapi', 'im-rest.yaml');

export const STAGE_NAME = 'prod';

export interface ApiProps {
  readonly restFunction: lambda.IFunction;
  readonly xmlrpcFunction: lambda.IFunction;
  readonly throttling: { readonly rateLimit: number; readonly burstLimit: number };
  /** ENABLE_CORS / CORS_ORIGIN: the handler answers preflights; API Gateway's own errors get the header too. */
  readonly cors: { readonly enabled: boolean; readonly origin: string };
  readonly logRetention: logs.RetentionDays;
  readonly removalPolicy: RemovalPolicy;
  /** @default the contents of openapi/im-rest.yaml */
  readonly openApiDocument?: string;
}

export class Api extends Construct {
  readonly restApi: apigw.RestApi;
  readonly accessLogs: logs.LogGroup;

  constructor(scope: Construct, id: string, props: ApiProps) {
    super(scope, id);

    this.accessLogs = new logs.LogGroup(this, 'AccessLogs', {
      retention: props.logRetention,
      removalPolicy: props.removalPolicy,
    });

    this.restApi = new apigw.RestApi(this, 'RestApi', {
      description: 'Infrastructure Manager: REST API and XML-RPC API',
      endpointConfiguration: { types: [apigw.EndpointType.REGIONAL] },
      // The account-level role that lets API Gateway write execution logs. It is shared by every API
      // of the account and region, so it outlives the stack.
      cloudWatchRole: true,
      cloudWatchRoleRemovalPolicy: RemovalPolicy.RETAIN,
      deployOptions: {
        stageName: STAGE_NAME,
        throttlingRateLimit: props.throttling.rateLimit,
        throttlingBurstLimit: props.throttling.burstLimit,
        accessLogDestination: new apigw.LogGroupLogDestination(this.accessLogs),
        accessLogFormat: accessLogFormat(),
        loggingLevel: apigw.MethodLoggingLevel.ERROR,
        // Never log request or response bodies: the Authorization header and RADL carry credentials.
        dataTraceEnabled: false,
        metricsEnabled: true,
        tracingEnabled: true,
      },
    });

    const rest = new apigw.LambdaIntegration(props.restFunction, { proxy: true, scopePermissionToMethod: false });
    for (const path of REST_PATHS) {
      let resource = this.restApi.root;
      if (!resource.node.tryFindChild('ANY')) resource.addMethod('ANY', rest);
      for (const part of path.split('/').filter(Boolean)) {
        resource = resource.getResource(part) ?? resource.addResource(part);
        if (!resource.node.tryFindChild('ANY')) resource.addMethod('ANY', rest);
      }
    }

    const xmlrpc = new apigw.LambdaIntegration(props.xmlrpcFunction, { proxy: true, scopePermissionToMethod: false });
    for (const path of XMLRPC_PATHS) {
      this.restApi.root.addResource(path.slice(1)).addMethod('POST', xmlrpc);
    }

    this.addOpenApiDocument(props.openApiDocument ?? readFileSync(OPENAPI_FILE, 'utf8'));

    // API Gateway answers some requests itself (unknown method on the POST-only routes, throttling,
    // payload over 10 MB). Unknown method → 404 rather than "Missing Authentication Token".
    this.restApi.addGatewayResponse('NoRoute', {
      type: apigw.ResponseType.MISSING_AUTHENTICATION_TOKEN,
      statusCode: '404',
      templates: { 'application/json': '{"message": "Not Found", "code": 404}' },
    });
    if (props.cors.enabled) {
      const headers = { 'Access-Control-Allow-Origin': `'${props.cors.origin}'` };
      this.restApi.addGatewayResponse('Cors4xx', { type: apigw.ResponseType.DEFAULT_4XX, responseHeaders: headers });
      this.restApi.addGatewayResponse('Cors5xx', { type: apigw.ResponseType.DEFAULT_5XX, responseHeaders: headers });
    }

    acknowledge(
      this.restApi,
      {
        id: 'AwsSolutions-APIG2',
        reason:
          'Bodies are RADL, RADL-JSON, TOSCA YAML or XML-RPC XML: no API Gateway model can validate them. ' +
          'The handlers parse and validate every body and cap its size (MAX_BODY_SIZE).',
      },
      {
        id: 'AwsSolutions-APIG3',
        reason:
          'No WAF web ACL by default (cost); stage throttling limits abuse. Attach a web ACL to the stage ' +
          'if the API is exposed widely (docs/DEPLOY.md).',
      },
      {
        id: 'AwsSolutions-APIG4',
        reason:
          'IM authenticates in-band: the Authorization header carries IM credentials or an OIDC token that ' +
          'the handlers check against the stored owners; an API Gateway authorizer cannot do that.',
      },
      {
        id: 'AwsSolutions-COG4',
        reason:
          'IM users are not Cognito users: they authenticate with IM credentials or OIDC tokens checked by ' +
          'the handlers (see AwsSolutions-APIG4).',
      },
      {
        id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]',
        reason:
          'The account-level API Gateway logging role uses the AWS managed policy that AWS documents for it; ' +
          'it only allows writing to CloudWatch Logs.',
      },
    );
  }

  /** The invoke URL of the stage, ending in `/`. */
  get url(): string {
    return this.restApi.url;
  }

  /** The XML-RPC endpoint. */
  get xmlrpcUrl(): string {
    return this.restApi.urlForPath(XMLRPC_PATHS[0]);
  }

  private addOpenApiDocument(document: string): void {
    // The mapping template is VTL: the document goes in as base64 so that its `$` and `#` stay literal.
    const template = `$util.base64Decode("${Buffer.from(document, 'utf8').toString('base64')}")`;
    const integration = new apigw.MockIntegration({
      requestTemplates: { 'application/json': '{"statusCode": 200}' },
      passthroughBehavior: apigw.PassthroughBehavior.WHEN_NO_TEMPLATES,
      integrationResponses: [
        {
          statusCode: '200',
          responseParameters: { 'method.response.header.Content-Type': "'application/yaml'" },
          responseTemplates: { 'application/json': template, 'application/yaml': template },
        },
      ],
    });
    this.restApi.root.addResource(OPENAPI_PATH.slice(1)).addMethod('GET', integration, {
      methodResponses: [{ statusCode: '200', responseParameters: { 'method.response.header.Content-Type': true } }],
    });
  }
}

function accessLogFormat(): apigw.AccessLogFormat {
  const F = apigw.AccessLogField;
  return apigw.AccessLogFormat.custom(
    JSON.stringify({
      requestId: F.contextRequestId(),
      extendedRequestId: F.contextExtendedRequestId(),
      ip: F.contextIdentitySourceIp(),
      requestTime: F.contextRequestTime(),
      httpMethod: F.contextHttpMethod(),
      resourcePath: F.contextResourcePath(),
      path: F.contextPath(),
      protocol: F.contextProtocol(),
      status: F.contextStatus(),
      responseLength: F.contextResponseLength(),
      responseLatency: F.contextResponseLatency(),
      integrationLatency: F.contextIntegrationLatency(),
      integrationStatus: F.contextIntegrationStatus(),
      errorMessage: F.contextErrorMessage(),
      xrayTraceId: F.contextXrayTraceId(),
      userAgent: F.contextIdentityUserAgent(),
    }),
  );
}
