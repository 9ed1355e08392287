/**
 * Purge: an EventBridge schedule runs the purge function (lambdas/handlers/purge.ts), which removes
 * the infrastructures deleted more than DELETED_RETENTION_DAYS ago (and, with PURGE_BEFORE, those
 * deleted before that date), like IM's delete_old_infs script. DynamoDB TTL expires the same items
 * too, but late (up to days); the purge also removes the VM and log items of the partition.
 */
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import type * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { HandlerFunction, type FunctionCode } from './functions.ts';
import type { Storage } from './storage.ts';

export interface PurgeProps {
  readonly storage: Storage;
  /** EventBridge schedule expression, e.g. `rate(1 day)`. */
  readonly schedule: string;
  readonly retentionDays: number;
  /** ISO date: also purge what was deleted before it. */
  readonly purgeBefore?: string;
  /** Other IM options (LOG_LEVEL, …). */
  readonly environment: Readonly<Record<string, string>>;
  readonly logRetention: logs.RetentionDays;
  readonly removalPolicy: RemovalPolicy;
  /** @default 'bundle' */
  readonly code?: FunctionCode;
}

export class Purge extends Construct {
  readonly handler: HandlerFunction;
  readonly rule: events.Rule;

  constructor(scope: Construct, id: string, props: PurgeProps) {
    super(scope, id);

    this.handler = new HandlerFunction(this, 'Handler', {
      handler: 'purge',
      description: 'IM purge of deleted infrastructures',
      memorySize: 512,
      timeout: Duration.minutes(15),
      environment: {
        ...props.environment,
        TABLE_NAME: props.storage.table.tableName,
        DELETED_RETENTION_DAYS: String(props.retentionDays),
        ...(props.purgeBefore ? { PURGE_BEFORE: props.purgeBefore } : {}),
      },
      logRetention: props.logRetention,
      removalPolicy: props.removalPolicy,
      code: props.code,
    });
    props.storage.grantReadWrite(this.handler.role);

    this.rule = new events.Rule(this, 'Schedule', {
      description: 'Runs the IM purge of deleted infrastructures',
      schedule: events.Schedule.expression(props.schedule),
      targets: [new targets.LambdaFunction(this.handler.function, { retryAttempts: 2 })],
    });
  }
}
