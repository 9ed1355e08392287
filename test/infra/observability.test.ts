import { describe, expect, it } from 'vitest';
import { Template } from 'aws-cdk-lib/assertions';
import * as apigw from 'aws-cdk-lib/aws-apigateway';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Observability } from '../../infra/lib/constructs/observability.ts';
import { testStack, testStorage } from './helpers.ts';

function build(alarmTopicArn?: string) {
  const stack = testStack();
  const fn = new lambda.Function(stack, 'Fn', {
    runtime: lambda.Runtime.NODEJS_22_X,
    handler: 'index.handler',
    code: lambda.Code.fromInline('exports.handler = async () => ({});'),
  });
  const api = new apigw.RestApi(stack, 'Api');
  api.root.addMethod('GET', new apigw.MockIntegration());
  const sm = new sfn.StateMachine(stack, 'Sm', { definitionBody: sfn.DefinitionBody.fromChainable(new sfn.Pass(stack, 'P')) });
  new Observability(stack, 'Observability', {
    dashboardName: 'im-test',
    functions: { Rest: fn },
    stateMachines: { launch: sm },
    restApi: api,
    table: testStorage(stack).table,
    alarmTopicArn,
  });
  return Template.fromStack(stack);
}

describe('Observability construct', () => {
  const template = build();

  it('alarms on function errors, failed and timed-out executions and API 5xx', () => {
    const alarms = Object.values(template.findResources('AWS::CloudWatch::Alarm')).map((a) => a.Properties);
    const metrics = alarms.map((a) => `${a.Namespace}/${a.MetricName}`).sort();
    expect(metrics).toEqual(['AWS/ApiGateway/5XXError', 'AWS/Lambda/Errors', 'AWS/States/ExecutionsFailed', 'AWS/States/ExecutionsTimedOut']);
    for (const a of alarms) {
      expect(a).toMatchObject({ ComparisonOperator: 'GreaterThanOrEqualToThreshold', TreatMissingData: 'notBreaching', Period: 300 });
      expect(a.AlarmActions).toBeUndefined();
    }
  });

  it('has a dashboard', () => {
    template.hasResourceProperties('AWS::CloudWatch::Dashboard', { DashboardName: 'im-test' });
  });

  it('notifies the configured SNS topic', () => {
    const arn = 'arn:aws:sns:eu-west-1:123456789012:im-alarms';
    for (const a of Object.values(build(arn).findResources('AWS::CloudWatch::Alarm'))) {
      expect(a.Properties.AlarmActions).toEqual([arn]);
    }
  });
});
