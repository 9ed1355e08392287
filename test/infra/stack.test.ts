/**
 * The whole stack, synthesized like `cdk synth` does: real esbuild bundles of the four handlers,
 * the cdk-nag AwsSolutions plugin and CDK's CloudFormation validator (strict through cdk.json).
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import type { CloudAssembly } from 'aws-cdk-lib/cx-api';
import { loadConfig } from '#core/config';
import { workflowArns } from '#handlers/aws';
import { WORKFLOWS } from '#orchestration/asl';
import { HANDLER_ENTRIES, LAMBDA_BUNDLE_FILE, REPO_ROOT, entryExists, type HandlerName } from '../../infra/lib/bundling.ts';
import { buildBundle, checkBundle } from '../../bench/bundles.ts';
import { createImApp, type ImStack } from '../../infra/lib/stack.ts';
import { actionsOf, cdkJsonContext, json, logicalId, statementsOfRole, wildcardActions } from './helpers.ts';

const ALL_ENTRIES = (Object.keys(HANDLER_ENTRIES) as HandlerName[]).every(entryExists);

/** Evaluates Ref / Fn::Join / Fn::GetAtt of a template value with sample pseudo parameters. */
function evaluate(value: unknown): unknown {
  const pseudo: Record<string, string> = { 'AWS::Partition': 'aws', 'AWS::Region': 'eu-west-1', 'AWS::AccountId': '123456789012', 'AWS::URLSuffix': 'amazonaws.com' };
  if (Array.isArray(value)) return value.map(evaluate);
  if (value && typeof value === 'object') {
    const o = value as Record<string, unknown>;
    if (typeof o.Ref === 'string') return pseudo[o.Ref] ?? `<${o.Ref}>`;
    if (Array.isArray(o['Fn::Join'])) {
      const [sep, parts] = o['Fn::Join'] as [string, unknown[]];
      return parts.map(evaluate).join(sep);
    }
    if (Array.isArray(o['Fn::GetAtt'])) return `<${(o['Fn::GetAtt'] as string[]).join('.')}>`;
    return Object.fromEntries(Object.entries(o).map(([k, v]) => [k, evaluate(v)]));
  }
  return value;
}

describe.skipIf(!ALL_ENTRIES)('ImStack (real bundles, cdk-nag and CloudFormation validation)', () => {
  let stack: ImStack;
  let assembly: CloudAssembly;
  let template: Template;
  let functions: Record<string, Record<string, unknown>>;

  let outdir: string;

  beforeAll(() => {
    // Inside the repository (cdk.out/ is ignored by git) so that the bundles' external @aws-sdk/*
    // imports resolve from node_modules when the test imports them, as from the runtime in Lambda.
    mkdirSync(join(REPO_ROOT, 'cdk.out'), { recursive: true });
    outdir = mkdtempSync(join(REPO_ROOT, 'cdk.out', 'test-stack-'));
    const built = createImApp({ context: cdkJsonContext(), outdir });
    stack = built.stack;
    assembly = built.app.synth();
    template = Template.fromJSON(assembly.getStackByName(stack.stackName).template);
    functions = Object.fromEntries(
      Object.entries(template.findResources('AWS::Lambda::Function')).map(([id, r]) => [id, r.Properties as Record<string, unknown>]),
    );
    // In Lambda, /var/task has no package.json and index.js is CommonJS; here the repository's
    // package.json says "type": "module", which this one (closer to the assets) overrides.
    writeFileSync(join(outdir, 'package.json'), '{ "type": "commonjs" }\n');
  }, 240_000);

  afterAll(() => {
    if (outdir) rmSync(outdir, { recursive: true, force: true });
  });

  /** The bundle directory of each function. */
  const bundles = (): string[] => Object.values(functions).map(assetDir);
  const assetDir = (fn: Record<string, unknown>): string =>
    join(assembly.directory, `asset.${(fn.Code as { S3Key: string }).S3Key.replace(/\.zip$/, '')}`);
  /** The deployed bundle of each handler. */
  const byHandler = (): [HandlerName, string][] =>
    (
      [
        ['FunctionsRestFunction', 'rest'],
        ['FunctionsXmlRpcFunction', 'xmlrpc'],
        ['FunctionsTasksFunction', 'tasks'],
        ['PurgeHandlerFunction', 'purge'],
      ] as const
    ).map(([prefix, handler]) => [handler, join(assetDir(functions[logicalId(template, 'AWS::Lambda::Function', prefix)]), LAMBDA_BUNDLE_FILE)]);

  it('synthesizes with no validation finding (cdk-nag, CloudFormation validator, annotations)', () => {
    const report = JSON.parse(readFileSync(join(assembly.directory, 'validation-report.json'), 'utf8')) as { pluginReports: unknown[] };
    expect(report.pluginReports).toEqual([]);
    const context = cdkJsonContext();
    expect(context['@aws-cdk/core:validateAgainstDefaultRules']).toBe(true);
    expect(assembly.manifest.missing).toBeUndefined();
  });

  it('bundles each handler into one minified CommonJS file under 1 MB, with its source map', () => {
    expect(Object.keys(functions)).toHaveLength(4);
    for (const fn of Object.values(functions)) {
      expect(fn).toMatchObject({ Runtime: 'nodejs22.x', Architectures: ['arm64'], Handler: 'index.handler' });
    }
    for (const dir of bundles()) {
      const bundle = join(dir, LAMBDA_BUNDLE_FILE);
      expect(existsSync(bundle), bundle).toBe(true);
      expect(existsSync(`${bundle}.map`)).toBe(true);
      expect(existsSync(join(dir, 'index.mjs'))).toBe(false);
      expect(statSync(bundle).size).toBeLessThan(1024 * 1024);
      const code = readFileSync(bundle, 'utf8');
      // esbuild's CommonJS output: `"use strict";…module.exports=__toCommonJS(…)`, no ESM syntax left.
      expect(code.startsWith('"use strict";')).toBe(true);
      expect(code).toMatch(/module\.exports=/);
      expect(code).not.toMatch(/^import[\s{*]|\bimport\.meta\b|^export\s*\{/m);
      expect(code.trimEnd().endsWith(`//# sourceMappingURL=${LAMBDA_BUNDLE_FILE}.map`)).toBe(true);
    }
  });

  it('bundles exactly what bench/bundles.ts measures (same esbuild options, no warning, byte for byte)', async () => {
    for (const [handler, deployed] of byHandler()) {
      // At the depth of the assets, so that the source maps' relative `sources` match too.
      const outfile = join(outdir, `bench-check-${handler}`, LAMBDA_BUNDLE_FILE);
      await buildBundle(handler, outfile); // throws on any esbuild warning (e.g. import.meta in CommonJS)
      expect(readFileSync(outfile, 'utf8') === readFileSync(deployed, 'utf8'), handler).toBe(true);
      expect(readFileSync(`${outfile}.map`, 'utf8') === readFileSync(`${deployed}.map`, 'utf8'), handler).toBe(true);
    }
  });

  it('loads each bundle with require() in a fresh Node process (source maps on) and runs its handler', () => {
    for (const [handler, bundle] of byHandler()) {
      // exports.handler is a function and answers a trivial event without AWS calls (see bench/bundles.ts).
      expect(checkBundle(bundle, handler), handler).toBeUndefined();
    }
  });

  it('gives the API and task functions the environment the AWS composition root (lambdas/handlers/aws.ts) reads', () => {
    const api = Object.values(functions).filter((f) => f.Description !== 'IM purge of deleted infrastructures');
    expect(api).toHaveLength(3);
    for (const fn of api) {
      const env = evaluate((fn.Environment as { Variables: Record<string, unknown> }).Variables) as Record<string, string>;
      expect(env.TABLE_NAME).toMatch(/^<StorageTable/);
      expect(env.SECRET_KEY_ARN).toMatch(/^<StorageSecretKey/);
      expect(env.SECRET_KEY).toBeUndefined();
      expect(env.MAX_BODY_SIZE).toBe(String(1024 * 1024));
      const arns = workflowArns(env, loadConfig(env));
      for (const w of WORKFLOWS) {
        expect(arns[w]).toBe(`arn:aws:states:eu-west-1:123456789012:stateMachine:ImServerless-${w}`);
        expect(`${env.STATE_MACHINE_ARN_PREFIX}${w}`).toBe(arns[w]);
      }
      expect(() => loadConfig(env)).not.toThrow();
    }
  });

  it('names the state machines as the functions expect them', () => {
    for (const w of WORKFLOWS) {
      template.hasResourceProperties('AWS::StepFunctions::StateMachine', {
        StateMachineName: `ImServerless-${w}`,
        TracingConfiguration: { Enabled: true },
        LoggingConfiguration: Match.objectLike({ Level: 'ALL', IncludeExecutionData: true }),
      });
    }
  });

  it('has no IAM statement with a wildcard action', () => {
    expect(wildcardActions(template)).toEqual([]);
  });

  it('routes the REST paths to the REST function and POST /xmlrpc, /RPC2 to the XML-RPC function', () => {
    const rest = logicalId(template, 'AWS::Lambda::Function', 'FunctionsRestFunction');
    const xmlrpc = logicalId(template, 'AWS::Lambda::Function', 'FunctionsXmlRpcFunction');
    const methods = Object.values(template.findResources('AWS::ApiGateway::Method')).map((m) => m.Properties);
    const proxies = methods.filter((m) => m.Integration.Type === 'AWS_PROXY');
    expect(proxies.filter((m) => m.HttpMethod === 'ANY').every((m) => json(m.Integration.Uri).includes(`"${rest}","Arn"`))).toBe(true);
    expect(proxies.filter((m) => m.HttpMethod === 'POST').map((m) => json(m.Integration.Uri).includes(`"${xmlrpc}","Arn"`))).toEqual([true, true]);
  });

  it('lets only the API functions start and follow workflows', () => {
    for (const [id, fn] of Object.entries(functions)) {
      const role = (fn.Role as { 'Fn::GetAtt': string[] })['Fn::GetAtt'][0];
      const actions = statementsOfRole(template, role).flatMap(actionsOf);
      const isApi = /^Functions(Rest|XmlRpc)/.test(id);
      expect(actions.includes('states:StartExecution'), id).toBe(isApi);
      expect(actions.includes('secretsmanager:GetSecretValue'), id).toBe(!id.startsWith('Purge'));
    }
  });

  it('schedules the purge function every day by default', () => {
    const purge = logicalId(template, 'AWS::Lambda::Function', 'PurgeHandlerFunction');
    template.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'rate(1 day)',
      Targets: [Match.objectLike({ Arn: { 'Fn::GetAtt': [purge, 'Arn'] } })],
    });
  });

  it('outputs the API URL, the XML-RPC URL, the table and the state machine ARNs', () => {
    const outputs = Object.keys(template.findOutputs('*'));
    expect(outputs).toEqual(
      expect.arrayContaining(['ApiUrl', 'XmlRpcUrl', 'OpenApiUrl', 'TableName', 'SecretKeyArn', 'ClusterArn', ...WORKFLOWS.map((w) => `${w[0].toUpperCase()}${w.slice(1)}StateMachineArn`)]),
    );
    expect(json(template.findOutputs('XmlRpcUrl'))).toContain('/xmlrpc');
  });
});

describe('ImStack with an explicit account and region', () => {
  const synth = (extra: Record<string, unknown>) => {
    const { app, stack } = createImApp({
      context: { ...cdkJsonContext(), account: '123456789012', region: 'eu-west-1', ...extra },
      code: 'stub',
      outdir: mkdtempSync(join(tmpdir(), 'im-env-')),
      runnerImage: ecs.ContainerImage.fromRegistry('public.ecr.aws/docker/library/node:22-bookworm-slim'),
    });
    process.env.CDK_VALIDATION = 'false';
    try {
      const assembly = app.synth();
      return { stack, assembly, template: Template.fromJSON(assembly.getStackByName(stack.stackName).template) };
    } finally {
      delete process.env.CDK_VALIDATION;
    }
  };

  it('needs no context lookup: the AZs are resolved by CloudFormation', () => {
    const { stack, assembly, template } = synth({});
    expect(stack.account).toBe('123456789012');
    expect(stack.region).toBe('eu-west-1');
    expect(assembly.manifest.missing).toBeUndefined();
    const azs = Object.values(template.findResources('AWS::EC2::Subnet')).map((s) => json(s.Properties.AvailabilityZone));
    expect(azs).toEqual(['{"Fn::Select":[0,{"Fn::GetAZs":""}]}', '{"Fn::Select":[1,{"Fn::GetAZs":""}]}']);
  });

  it('uses the Availability Zones given in the context', () => {
    const { template } = synth({ availabilityZones: 'eu-west-1b,eu-west-1c' });
    const azs = Object.values(template.findResources('AWS::EC2::Subnet')).map((s) => s.Properties.AvailabilityZone);
    expect(azs).toEqual(['eu-west-1b', 'eu-west-1c']);
  });
});
