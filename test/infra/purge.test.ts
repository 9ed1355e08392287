import { describe, expect, it } from 'vitest';
import { RemovalPolicy } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Purge } from '../../infra/lib/constructs/purge.ts';
import { actionsOf, logicalId, statementsOfRole, testStack, testStorage } from './helpers.ts';

function build(purgeBefore?: string) {
  const stack = testStack();
  new Purge(stack, 'Purge', {
    storage: testStorage(stack),
    schedule: 'cron(0 3 * * ? *)',
    retentionDays: 14,
    purgeBefore,
    environment: { LOG_LEVEL: 'INFO' },
    logRetention: RetentionDays.ONE_MONTH,
    removalPolicy: RemovalPolicy.DESTROY,
    code: 'stub',
  });
  return Template.fromStack(stack);
}

describe('Purge construct', () => {
  const template = build('2024-01-31');

  it('schedules the purge function with the configured expression', () => {
    const fn = logicalId(template, 'AWS::Lambda::Function', 'PurgeHandlerFunction');
    template.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'cron(0 3 * * ? *)',
      State: 'ENABLED',
      Targets: [{ Arn: { 'Fn::GetAtt': [fn, 'Arn'] }, Id: 'Target0', RetryPolicy: { MaximumRetryAttempts: 2 } }],
    });
    template.hasResourceProperties('AWS::Lambda::Permission', {
      Action: 'lambda:InvokeFunction',
      Principal: 'events.amazonaws.com',
      FunctionName: { 'Fn::GetAtt': [fn, 'Arn'] },
    });
  });

  it('runs nodejs22.x on ARM64 with the retention, the cut-off date and the table in its environment', () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      Runtime: 'nodejs22.x',
      Architectures: ['arm64'],
      Timeout: 900,
      Environment: {
        Variables: {
          NODE_OPTIONS: '--enable-source-maps',
          LOG_LEVEL: 'INFO',
          TABLE_NAME: { Ref: logicalId(template, 'AWS::DynamoDB::Table', 'StorageTable') },
          DELETED_RETENTION_DAYS: '14',
          PURGE_BEFORE: '2024-01-31',
        },
      },
    });
  });

  it('omits PURGE_BEFORE when no cut-off is configured', () => {
    const fn = Object.values(build().findResources('AWS::Lambda::Function'))[0];
    expect(fn.Properties.Environment.Variables.PURGE_BEFORE).toBeUndefined();
  });

  it('can read and delete items of the table, and nothing else but its logs and X-Ray', () => {
    const role = logicalId(template, 'AWS::IAM::Role', 'PurgeHandlerRole');
    const actions = statementsOfRole(template, role).flatMap(actionsOf);
    expect(actions).toEqual(expect.arrayContaining(['dynamodb:Query', 'dynamodb:DeleteItem', 'dynamodb:BatchWriteItem']));
    expect(actions.every((a) => /^(dynamodb|logs|xray):/.test(a))).toBe(true);
  });
});
