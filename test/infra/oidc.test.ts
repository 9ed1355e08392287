/**
 * OIDC_CLIENT_SECRET in AWS: never in the CDK context; a Secrets Manager secret (created by the
 * stack when OIDC_CLIENT_ID is set, or named by oidcClientSecretArn) that only the REST and XML-RPC
 * functions may read, with its ARN in their environment (bootstrap.ts reads it at cold start).
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Template } from 'aws-cdk-lib/assertions';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import { AwsSolutionsChecks } from 'cdk-nag';
import { loadInfraConfig } from '../../infra/lib/config.ts';
import { createImApp } from '../../infra/lib/stack.ts';
import { actionsOf, cdkJsonContext, iamStatements, logicalId } from './helpers.ts';

const IMPORTED = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:im/oidc-client-AbCdEf';

function synth(extra: Record<string, unknown>) {
  const { stack } = createImApp({
    context: { ...cdkJsonContext(), ...extra },
    code: 'stub',
    outdir: mkdtempSync(join(tmpdir(), 'im-oidc-')),
    runnerImage: ecs.ContainerImage.fromRegistry('public.ecr.aws/docker/library/node:22-bookworm-slim'),
  });
  return { stack, template: Template.fromStack(stack) };
}

const envOf = (template: Template, prefix: string) =>
  template.findResources('AWS::Lambda::Function')[logicalId(template, 'AWS::Lambda::Function', prefix)].Properties.Environment.Variables as Record<string, unknown>;

/** Roles allowed GetSecretValue on a resource whose JSON mentions `needle`. */
function readersOf(template: Template, needle: string): string[] {
  return iamStatements(template)
    .filter(({ statement }) => actionsOf(statement).includes('secretsmanager:GetSecretValue') && JSON.stringify(statement.Resource).includes(needle))
    .map(({ source }) => source);
}

describe('OIDC client secret', () => {
  it('cannot be put in the context', () => {
    expect(() => loadInfraConfig({ OIDC_CLIENT_SECRET: 's3cret' })).toThrow(/OIDC_CLIENT_SECRET: cannot be set here \(a secret: the stack keeps it in Secrets Manager/);
    expect(() => loadInfraConfig({ oidcClientSecretArn: 'not-an-arn' })).toThrow(/oidcClientSecretArn: expected the complete ARN/);
  });

  it('no OIDC_CLIENT_ID: no secret, no grant, no variable', () => {
    const { template } = synth({});
    expect(Object.keys(template.findResources('AWS::SecretsManager::Secret'))).toHaveLength(1); // the sealing key only
    for (const p of ['FunctionsRestFunction', 'FunctionsXmlRpcFunction', 'FunctionsTasksFunction']) expect(envOf(template, p).OIDC_CLIENT_SECRET_ARN).toBeUndefined();
  });

  it('OIDC_CLIENT_ID set: the stack creates the secret; only the API functions get its ARN and read it', () => {
    const { stack, template } = synth({ OIDC_CLIENT_ID: 'im-dashboard', OIDC_ISSUERS: 'https://aai.egi.eu/auth/realms/egi' });
    const secretId = logicalId(template, 'AWS::SecretsManager::Secret', 'OidcClientSecret');
    expect(envOf(template, 'FunctionsRestFunction').OIDC_CLIENT_SECRET_ARN).toEqual({ Ref: secretId });
    expect(envOf(template, 'FunctionsXmlRpcFunction').OIDC_CLIENT_SECRET_ARN).toEqual({ Ref: secretId });
    expect(envOf(template, 'FunctionsTasksFunction').OIDC_CLIENT_SECRET_ARN).toBeUndefined();
    expect(envOf(template, 'FunctionsRestFunction').OIDC_CLIENT_SECRET).toBeUndefined();
    const readers = readersOf(template, secretId);
    expect(readers.length).toBe(2);
    expect(readers.every((r) => /^Functions(Rest|XmlRpc)/.test(r))).toBe(true);
    expect(template.findOutputs('OidcClientSecretArn')).toBeDefined();
    expect(new AwsSolutionsChecks().validateScope(stack).violations.map((v) => v.ruleName)).toEqual([]);
  });

  it('oidcClientSecretArn: that secret is used (not created), read by the API functions only', () => {
    const { template } = synth({ OIDC_CLIENT_ID: 'im-dashboard', oidcClientSecretArn: IMPORTED });
    expect(Object.keys(template.findResources('AWS::SecretsManager::Secret'))).toHaveLength(1);
    expect(envOf(template, 'FunctionsRestFunction').OIDC_CLIENT_SECRET_ARN).toBe(IMPORTED);
    const readers = readersOf(template, 'im/oidc-client-AbCdEf');
    expect(readers.length).toBe(2);
    expect(readers.every((r) => /^Functions(Rest|XmlRpc)/.test(r))).toBe(true);
  });
});
