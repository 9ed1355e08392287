import { describe, expect, it } from 'vitest';
import { RemovalPolicy } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Functions } from '../../infra/lib/constructs/functions.ts';
import { ESM_REQUIRE_BANNER, LAMBDA_BUNDLE_FILE, LAMBDA_BUNDLING, RUNNER_BUNDLE, esbuildOptionsFor } from '../../infra/lib/bundling.ts';
import { actionsOf, logicalId, statementsOfRole, testStack, testStorage } from './helpers.ts';

function build() {
  const stack = testStack();
  const storage = testStorage(stack);
  const functions = new Functions(stack, 'Functions', {
    storage,
    environment: { LOG_LEVEL: 'DEBUG' },
    logRetention: RetentionDays.ONE_MONTH,
    removalPolicy: RemovalPolicy.DESTROY,
    code: 'stub',
  });
  return { stack, functions, template: Template.fromStack(stack) };
}

describe('Functions construct', () => {
  const { template } = build();

  it('creates the REST, XML-RPC and tasks functions: nodejs22.x on ARM64, traced', () => {
    template.resourceCountIs('AWS::Lambda::Function', 3);
    for (const fn of Object.values(template.findResources('AWS::Lambda::Function'))) {
      expect(fn.Properties).toMatchObject({
        Runtime: 'nodejs22.x',
        Architectures: ['arm64'],
        TracingConfig: { Mode: 'Active' },
      });
    }
  });

  it('sets source maps, the table, the secret ARN and the given IM options in the environment', () => {
    const tableId = logicalId(template, 'AWS::DynamoDB::Table', 'StorageTable');
    const secretId = logicalId(template, 'AWS::SecretsManager::Secret', 'StorageSecretKey');
    for (const fn of Object.values(template.findResources('AWS::Lambda::Function'))) {
      expect(fn.Properties.Environment.Variables).toEqual({
        NODE_OPTIONS: '--enable-source-maps',
        LOG_LEVEL: 'DEBUG',
        TABLE_NAME: { Ref: tableId },
        SECRET_KEY_ARN: { Ref: secretId },
      });
    }
  });

  it('stops the API functions at API Gateway’s 29 s', () => {
    template.hasResourceProperties('AWS::Lambda::Function', { Description: 'IM REST API', Timeout: 29 });
    template.hasResourceProperties('AWS::Lambda::Function', { Description: 'IM XML-RPC API', Timeout: 29 });
    template.hasResourceProperties('AWS::Lambda::Function', { Description: 'IM state machine tasks', Timeout: 300 });
  });

  it('gives each function its own log group with a retention', () => {
    template.resourceCountIs('AWS::Logs::LogGroup', 3);
    template.allResourcesProperties('AWS::Logs::LogGroup', { RetentionInDays: 30 });
    for (const fn of Object.values(template.findResources('AWS::Lambda::Function'))) {
      expect(fn.Properties.LoggingConfig).toEqual({ LogGroup: { Ref: expect.stringMatching(/Logs/) } });
    }
  });

  it('uses roles without managed policies: its log group, the table (read-write), the secret (read), X-Ray', () => {
    template.allResourcesProperties('AWS::IAM::Role', { ManagedPolicyArns: Match.absent() });
    const tableId = logicalId(template, 'AWS::DynamoDB::Table', 'StorageTable');
    for (const roleId of Object.keys(template.findResources('AWS::IAM::Role'))) {
      const statements = statementsOfRole(template, roleId);
      const actions = statements.flatMap(actionsOf);
      expect(actions).toEqual(expect.arrayContaining(['logs:CreateLogStream', 'logs:PutLogEvents']));
      expect(actions).toEqual(expect.arrayContaining(['dynamodb:PutItem', 'dynamodb:Query', 'dynamodb:ConditionCheckItem']));
      expect(actions).toEqual(expect.arrayContaining(['secretsmanager:GetSecretValue']));
      expect(actions).toEqual(expect.arrayContaining(['xray:PutTraceSegments']));
      const dynamo = statements.find((s) => actionsOf(s).includes('dynamodb:PutItem'));
      expect(JSON.stringify(dynamo?.Resource)).toContain(tableId);
    }
  });

  it('bundles with esbuild as one minified CommonJS file with a source map, the AWS SDK left to the runtime', () => {
    expect(LAMBDA_BUNDLING).toMatchObject({
      minify: true,
      sourceMap: true,
      target: 'node22',
      externalModules: ['@aws-sdk/*', '*.node', 'cpu-features'],
    });
    expect(String(LAMBDA_BUNDLING.format)).toBe('cjs');
    // CommonJS needs no createRequire banner (and must not get one: it uses import.meta).
    expect(LAMBDA_BUNDLING.banner).toBeUndefined();
    expect(LAMBDA_BUNDLE_FILE).toBe('index.js');
  });

  it('builds the same CommonJS bundles with the esbuild API (bench, tests), and the runner as ESM', () => {
    const lambda = esbuildOptionsFor('entry.ts', 'out/index.js');
    expect(lambda).toMatchObject({ format: 'cjs', target: 'node22', minify: true, sourcemap: true, sourcesContent: false, bundle: true, platform: 'node' });
    expect(lambda.mainFields).toEqual(LAMBDA_BUNDLING.mainFields);
    expect(lambda.external).toEqual(LAMBDA_BUNDLING.externalModules);
    expect(lambda).not.toHaveProperty('banner');
    expect(esbuildOptionsFor('entry.ts', 'out/index.cjs')).toMatchObject({ format: 'cjs' });
    expect(esbuildOptionsFor('entry.ts', 'out/index.js', { externalSdk: false }).external).toEqual(['*.node', 'cpu-features']);
    // The Fargate runner (not a Lambda) stays an ESM bundle with its createRequire banner.
    const runner = esbuildOptionsFor('entry.ts', RUNNER_BUNDLE, { externalSdk: false });
    expect(runner).toMatchObject({ format: 'esm', banner: { js: ESM_REQUIRE_BANNER } });
  });
});
