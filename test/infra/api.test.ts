import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import yaml from 'js-yaml';
import { RemovalPolicy } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Api, OPENAPI_FILE, OPENAPI_PATH, REST_PATHS, XMLRPC_PATHS } from '../../infra/lib/constructs/api.ts';
import { logicalId, testStack } from './helpers.ts';

function build(cors = { enabled: false, origin: '*' }) {
  const stack = testStack();
  const fn = (id: string) =>
    new lambda.Function(stack, id, {
      runtime: lambda.Runtime.NODEJS_22_X,
      handler: 'index.handler',
      code: lambda.Code.fromInline('exports.handler = async () => ({ statusCode: 200 });'),
    });
  const api = new Api(stack, 'Api', {
    restFunction: fn('RestFn'),
    xmlrpcFunction: fn('XmlRpcFn'),
    throttling: { rateLimit: 12, burstLimit: 34 },
    cors,
    logRetention: RetentionDays.ONE_WEEK,
    removalPolicy: RemovalPolicy.DESTROY,
  });
  return { api, template: Template.fromStack(stack) };
}

type Resource = { Properties: Record<string, unknown> };

/** `"/infrastructures/{infId}"` → the method resources on it, from the template. */
function routes(template: Template): Map<string, Map<string, Resource>> {
  const resources = template.findResources('AWS::ApiGateway::Resource');
  const apiId = logicalId(template, 'AWS::ApiGateway::RestApi', 'ApiRestApi');
  const pathOf = (id: string): string => {
    const r = resources[id].Properties as { PathPart: string; ParentId: { Ref?: string } };
    const parent = r.ParentId.Ref ? pathOf(r.ParentId.Ref) : '';
    return `${parent}/${r.PathPart}`;
  };
  const out = new Map<string, Map<string, Resource>>();
  for (const m of Object.values(template.findResources('AWS::ApiGateway::Method'))) {
    const p = m.Properties as { HttpMethod: string; ResourceId: { Ref?: string; 'Fn::GetAtt'?: string[] } };
    const path = p.ResourceId.Ref ? pathOf(p.ResourceId.Ref) : '/';
    if (!p.ResourceId.Ref) expect(p.ResourceId['Fn::GetAtt']).toEqual([apiId, 'RootResourceId']);
    if (!out.has(path)) out.set(path, new Map());
    out.get(path)!.set(p.HttpMethod, m as Resource);
  }
  return out;
}

/** The function (logical id) a Lambda proxy method invokes. */
function targetOf(method: Resource): string | undefined {
  const integration = method.Properties.Integration as { Type: string; Uri?: unknown };
  if (integration.Type !== 'AWS_PROXY') return undefined;
  const m = /"Fn::GetAtt":\["([A-Za-z0-9]+)","Arn"\]/.exec(JSON.stringify(integration.Uri));
  return m?.[1];
}

/** Every path prefix of the REST paths (what the construct creates). */
const restResourcePaths = (): string[] => {
  const all = new Set<string>(['/']);
  for (const p of REST_PATHS) {
    const parts = p.split('/').filter(Boolean);
    for (let i = 1; i <= parts.length; i++) all.add(`/${parts.slice(0, i).join('/')}`);
  }
  return [...all];
};

describe('Api construct', () => {
  const { template } = build();
  const table = routes(template);
  const restFn = logicalId(template, 'AWS::Lambda::Function', 'RestFn');
  const xmlrpcFn = logicalId(template, 'AWS::Lambda::Function', 'XmlRpcFn');

  it('creates one regional REST API', () => {
    template.resourceCountIs('AWS::ApiGateway::RestApi', 1);
    template.hasResourceProperties('AWS::ApiGateway::RestApi', { EndpointConfiguration: { Types: ['REGIONAL'] } });
  });

  it.each(restResourcePaths())('routes every method of %s to the REST function (Lambda proxy)', (path) => {
    const methods = table.get(path);
    expect(methods && [...methods.keys()]).toEqual(['ANY']);
    expect(targetOf(methods!.get('ANY')!)).toBe(restFn);
  });

  it.each([...XMLRPC_PATHS])('routes POST %s to the XML-RPC function', (path) => {
    const methods = table.get(path);
    expect(methods && [...methods.keys()]).toEqual(['POST']);
    expect(targetOf(methods!.get('POST')!)).toBe(xmlrpcFn);
  });

  it('routes nothing else', () => {
    expect([...table.keys()].sort()).toEqual([...restResourcePaths(), ...XMLRPC_PATHS, OPENAPI_PATH].sort());
  });

  it('gives API Gateway one invoke permission per function, for this API only', () => {
    const permissions = Object.values(template.findResources('AWS::Lambda::Permission'));
    expect(permissions).toHaveLength(2);
    for (const p of permissions) {
      expect(p.Properties.Principal).toBe('apigateway.amazonaws.com');
      expect(JSON.stringify(p.Properties.SourceArn)).toContain(logicalId(template, 'AWS::ApiGateway::RestApi', 'ApiRestApi'));
    }
  });

  it('serves openapi/im-rest.yaml at GET /openapi.yaml through a Mock integration', () => {
    const method = table.get(OPENAPI_PATH)!.get('GET')!;
    const integration = method.Properties.Integration as {
      Type: string;
      IntegrationResponses: { ResponseTemplates: Record<string, string>; ResponseParameters: Record<string, string> }[];
    };
    expect(integration.Type).toBe('MOCK');
    const [response] = integration.IntegrationResponses;
    expect(response.ResponseParameters['method.response.header.Content-Type']).toBe("'application/yaml'");
    const b64 = /^\$util\.base64Decode\("([A-Za-z0-9+/=]+)"\)$/.exec(response.ResponseTemplates['application/json'])?.[1];
    expect(Buffer.from(b64!, 'base64').toString('utf8')).toBe(readFileSync(OPENAPI_FILE, 'utf8'));
    expect(response.ResponseTemplates['application/json'].length).toBeLessThan(300 * 1024);
  });

  it('throttles the stage, traces it, logs errors only (never bodies)', () => {
    template.hasResourceProperties('AWS::ApiGateway::Stage', {
      StageName: 'prod',
      TracingEnabled: true,
      MethodSettings: [
        {
          HttpMethod: '*',
          ResourcePath: '/*',
          ThrottlingRateLimit: 12,
          ThrottlingBurstLimit: 34,
          LoggingLevel: 'ERROR',
          DataTraceEnabled: false,
          MetricsEnabled: true,
        },
      ],
    });
  });

  it('writes JSON access logs to its own log group', () => {
    const stage = Object.values(template.findResources('AWS::ApiGateway::Stage'))[0];
    const settings = stage.Properties.AccessLogSetting as { DestinationArn: unknown; Format: string };
    expect(JSON.stringify(settings.DestinationArn)).toContain(logicalId(template, 'AWS::Logs::LogGroup', 'ApiAccessLogs'));
    const format = JSON.parse(settings.Format) as Record<string, string>;
    expect(format).toMatchObject({ requestId: '$context.requestId', status: '$context.status', ip: '$context.identity.sourceIp' });
    template.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 7 });
  });

  it('answers unknown methods of the POST-only routes with 404; no CORS headers unless ENABLE_CORS', () => {
    template.hasResourceProperties('AWS::ApiGateway::GatewayResponse', {
      ResponseType: 'MISSING_AUTHENTICATION_TOKEN',
      StatusCode: '404',
    });
    template.resourceCountIs('AWS::ApiGateway::GatewayResponse', 1);
  });

  it('adds the CORS origin to API Gateway’s own error answers when ENABLE_CORS is on', () => {
    const t = build({ enabled: true, origin: 'https://im.example.org' }).template;
    for (const type of ['DEFAULT_4XX', 'DEFAULT_5XX']) {
      t.hasResourceProperties('AWS::ApiGateway::GatewayResponse', {
        ResponseType: type,
        ResponseParameters: { 'gatewayresponse.header.Access-Control-Allow-Origin': "'https://im.example.org'" },
      });
    }
  });
});

describe('openapi/im-rest.yaml', () => {
  type Operation = { operationId: string; summary: string };
  const doc = yaml.load(readFileSync(OPENAPI_FILE, 'utf8')) as {
    openapi: string;
    paths: Record<string, Record<string, Operation | unknown>>;
  };
  const operations = Object.entries(doc.paths).flatMap(([path, item]) =>
    Object.entries(item)
      .filter(([method]) => ['get', 'put', 'post', 'delete', 'patch', 'options', 'head'].includes(method))
      .map(([method, op]) => ({ path, method, ...(op as Operation) })),
  );

  it('is OpenAPI 3 and describes IM’s 26 REST operations, each once', () => {
    expect(doc.openapi).toMatch(/^3\./);
    const numbers = operations.map((o) => /^\((\d+)\)/.exec(o.summary)?.[1]).filter(Boolean).map(Number);
    expect(numbers.sort((a, b) => a - b)).toEqual(Array.from({ length: 26 }, (_, i) => i + 1));
    const ids = operations.map((o) => o.operationId);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('only documents paths that the API routes', () => {
    const routed = (path: string): boolean => {
      if (path === OPENAPI_PATH) return true;
      const parts = path.split('/').filter(Boolean);
      // A documented path is routed when one of IM's paths matches it, `{x}` matching any segment
      // and `{proxy+}` the rest (not the root catch-all, which matches anything).
      return REST_PATHS.filter((route) => route !== '/{proxy+}').some((route) => {
        const r = route.split('/').filter(Boolean);
        const greedy = r.at(-1) === '{proxy+}';
        const fixed = greedy ? r.slice(0, -1) : r;
        const lengthOk = greedy ? parts.length > fixed.length : parts.length === r.length;
        return lengthOk && fixed.every((s, i) => s === parts[i] || s.startsWith('{'));
      });
    };
    for (const path of Object.keys(doc.paths)) expect(routed(path), path).toBe(true);
  });

  it('resolves every local $ref', () => {
    const text = readFileSync(OPENAPI_FILE, 'utf8');
    const root = yaml.load(text) as Record<string, unknown>;
    for (const [, ref] of text.matchAll(/\$ref: '#\/([^']+)'/g)) {
      const target = ref.split('/').reduce<unknown>((node, key) => (node as Record<string, unknown> | undefined)?.[key], root);
      expect(target, ref).toBeDefined();
    }
  });
});
