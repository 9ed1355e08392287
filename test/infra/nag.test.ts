import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import { AwsSolutionsChecks } from 'cdk-nag';
import { createImApp } from '../../infra/lib/stack.ts';
import { acknowledge } from '../../infra/lib/nag.ts';
import { cdkJsonContext } from './helpers.ts';

const runnerImage = () => ecs.ContainerImage.fromRegistry('public.ecr.aws/docker/library/node:22-bookworm-slim');
/** The app with stub functions; a registry image unless the context names one (no Docker asset). */
const app = (outdir = mkdtempSync(join(tmpdir(), 'im-nag-')), extra: Record<string, unknown> = {}) =>
  createImApp({
    context: { ...cdkJsonContext(), ...extra },
    code: 'stub',
    outdir,
    runnerImage: 'runnerImageUri' in extra ? undefined : runnerImage(),
  });

describe('cdk-nag AwsSolutions checks', () => {
  it('find nothing unacknowledged in the stack', () => {
    const { stack } = app();
    const report = new AwsSolutionsChecks().validateScope(stack);
    expect(report.violations.map((v) => `${v.ruleName} ${v.violatingResources.map((r) => r.constructPath).join(' ')}`)).toEqual([]);
    expect(report.success).toBe(true);
  });

  it.each([
    ['CORS, removal policy destroy, an alarm topic', { ENABLE_CORS: true, removalPolicy: 'destroy', alarmTopicArn: 'arn:aws:sns:eu-west-1:123456789012:im' }],
    ['an explicit environment and a runner image in ECR', { account: '123456789012', region: 'eu-west-1', runnerImageUri: '123456789012.dkr.ecr.eu-west-1.amazonaws.com/im-runner:1.0' }],
  ])('find nothing unacknowledged either with %s', (_, extra: Record<string, unknown>) => {
    const { stack } = app(undefined, extra);
    expect(new AwsSolutionsChecks().validateScope(stack).violations.map((v) => v.ruleName)).toEqual([]);
  });

  it('are registered on the app with Validations, so that a new finding fails synth', () => {
    const outdir = mkdtempSync(join(tmpdir(), 'im-nag-'));
    const { app: cdkApp, stack } = app(outdir);
    new sqs.Queue(stack, 'Unencrypted', { encryption: sqs.QueueEncryption.UNENCRYPTED });
    // Only the cdk-nag plugin matters here: skip CDK's CloudFormation validator (stack.test.ts runs it).
    process.env.CDK_VALIDATION = 'false';
    onTestFinished(() => {
      delete process.env.CDK_VALIDATION;
    });
    expect(() => cdkApp.synth()).toThrow(/ERROR The SQS Queue does not have server-side encryption enabled/);
    const report = JSON.parse(readFileSync(join(outdir, 'validation-report.json'), 'utf8')) as {
      pluginReports: { pluginName: string; conclusion: string; violations: { ruleName: string }[] }[];
    };
    const nag = report.pluginReports.find((r) => r.pluginName === 'AwsSolutions');
    expect(nag?.conclusion).toBe('failure');
    const rules = nag?.violations.map((v) => v.ruleName) ?? [];
    expect(rules).toEqual(expect.arrayContaining(['AwsSolutions-SQS2', 'AwsSolutions-SQS3', 'AwsSolutions-SQS4']));
  });

  it('see an acknowledgement only for the very finding it names', () => {
    const { stack } = app();
    const role = new iam.Role(stack, 'Extra', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
    role.addToPolicy(new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: ['arn:aws:s3:::bucket/*'] }));
    acknowledge(role, {
      id: 'AwsSolutions-IAM5[Resource::arn:aws:s3:::other/*]',
      reason: 'A different resource: this acknowledgement must not hide the finding of the test.',
    });
    const rules = new AwsSolutionsChecks().validateScope(stack).violations.map((v) => v.ruleName);
    expect(rules).toEqual(['AwsSolutions-IAM5[Resource::arn:aws:s3:::bucket/*]']);
  });

  it('need a specific reason for every acknowledgement', () => {
    const { stack } = app();
    expect(() => acknowledge(stack, { id: 'AwsSolutions-S1', reason: 'not needed' })).toThrow(/needs a specific reason/);
  });
});
