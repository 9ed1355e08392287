/**
 * Observability: a CloudWatch dashboard of the whole service and alarms on what needs a human:
 * function errors, failed or timed-out workflows, API 5xx answers. The log groups belong to the
 * constructs that write them (functions, API access logs, state machines, runner, flow logs).
 * With `alarmTopicArn` in the context the alarms notify that SNS topic.
 */
import { Duration } from 'aws-cdk-lib';
import type * as apigw from 'aws-cdk-lib/aws-apigateway';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sns from 'aws-cdk-lib/aws-sns';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';

export interface ObservabilityProps {
  readonly dashboardName: string;
  readonly functions: Readonly<Record<string, lambda.IFunction>>;
  readonly stateMachines: Readonly<Record<string, sfn.IStateMachine>>;
  readonly restApi: apigw.RestApi;
  readonly table: dynamodb.ITable;
  readonly alarmTopicArn?: string;
}

const PERIOD = Duration.minutes(5);

export class Observability extends Construct {
  readonly dashboard: cloudwatch.Dashboard;
  readonly alarms: cloudwatch.Alarm[] = [];

  constructor(scope: Construct, id: string, props: ObservabilityProps) {
    super(scope, id);

    const action = props.alarmTopicArn
      ? new actions.SnsAction(sns.Topic.fromTopicArn(this, 'AlarmTopic', props.alarmTopicArn))
      : undefined;
    const alarm = (alarmId: string, metric: cloudwatch.IMetric, threshold: number, description: string) => {
      const a = new cloudwatch.Alarm(this, alarmId, {
        metric,
        threshold,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        alarmDescription: description,
      });
      if (action) a.addAlarmAction(action);
      this.alarms.push(a);
    };

    for (const [name, fn] of Object.entries(props.functions)) {
      alarm(`${name}Errors`, fn.metricErrors({ period: PERIOD }), 1, `The ${name} function failed (uncaught error or timeout)`);
    }
    for (const [name, sm] of Object.entries(props.stateMachines)) {
      alarm(`${name}Failed`, sm.metricFailed({ period: PERIOD }), 1, `A ${name} execution failed`);
      alarm(`${name}TimedOut`, sm.metricTimedOut({ period: PERIOD }), 1, `A ${name} execution timed out`);
    }
    alarm('Api5xx', props.restApi.metricServerError({ period: PERIOD }), 5, 'The API answered 5xx at least 5 times in 5 minutes');

    const fns = Object.entries(props.functions);
    const sms = Object.entries(props.stateMachines);
    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      dashboardName: props.dashboardName,
      widgets: [
        [
          new cloudwatch.GraphWidget({
            title: 'API requests and errors',
            left: [props.restApi.metricCount({ period: PERIOD })],
            right: [props.restApi.metricClientError({ period: PERIOD }), props.restApi.metricServerError({ period: PERIOD })],
          }),
          new cloudwatch.GraphWidget({
            title: 'API latency (p50, p99)',
            left: [
              props.restApi.metricLatency({ period: PERIOD, statistic: 'p50' }),
              props.restApi.metricLatency({ period: PERIOD, statistic: 'p99' }),
            ],
          }),
        ],
        [
          new cloudwatch.GraphWidget({
            title: 'Function errors',
            left: fns.map(([name, fn]) => fn.metricErrors({ period: PERIOD, label: name })),
          }),
          new cloudwatch.GraphWidget({
            title: 'Function duration (p99)',
            left: fns.map(([name, fn]) => fn.metricDuration({ period: PERIOD, statistic: 'p99', label: name })),
          }),
        ],
        [
          new cloudwatch.GraphWidget({
            title: 'Workflows started',
            left: sms.map(([name, sm]) => sm.metricStarted({ period: PERIOD, label: name })),
          }),
          new cloudwatch.GraphWidget({
            title: 'Workflows failed or timed out',
            left: sms.flatMap(([name, sm]) => [
              sm.metricFailed({ period: PERIOD, label: `${name} failed` }),
              sm.metricTimedOut({ period: PERIOD, label: `${name} timed out` }),
            ]),
          }),
        ],
        [
          new cloudwatch.GraphWidget({
            title: 'Table capacity consumed',
            left: [
              props.table.metricConsumedReadCapacityUnits({ period: PERIOD }),
              props.table.metricConsumedWriteCapacityUnits({ period: PERIOD }),
            ],
          }),
        ],
      ],
    });
  }
}
