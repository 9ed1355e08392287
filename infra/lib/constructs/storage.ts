/**
 * Storage: the single DynamoDB table (schema shared with lambdas/store/schema.ts) and the key that
 * seals the cloud credentials stored in it.
 */
import { RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import {
  INDEX_PROJECTED_ATTRIBUTES,
  OWNER_INDEX,
  PARTITION_KEY,
  SORT_KEY,
  TIME_INDEX,
  TTL_ATTRIBUTE,
} from '#store/dynamodb/schema';
import { acknowledge, acknowledgeWildcardResource } from '../nag.ts';

export interface StorageProps {
  /** Physical table name; CloudFormation generates one when omitted. */
  readonly tableName?: string;
  /** Applied to the table and to the secret. */
  readonly removalPolicy: RemovalPolicy;
}

export class Storage extends Construct {
  readonly table: dynamodb.Table;
  /**
   * SECRET_KEY of lambdas/core/config.ts: 43 random letters and digits, which decode as base64 to
   * the 32-byte AES-256-GCM key of lambdas/core/secrets.ts.
   */
  readonly secretKey: secretsmanager.Secret;

  constructor(scope: Construct, id: string, props: StorageProps) {
    super(scope, id);

    this.table = new dynamodb.Table(this, 'Table', {
      tableName: props.tableName,
      partitionKey: { name: PARTITION_KEY, type: dynamodb.AttributeType.STRING },
      sortKey: { name: SORT_KEY, type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      timeToLiveAttribute: TTL_ATTRIBUTE,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      encryption: dynamodb.TableEncryption.AWS_MANAGED,
      deletionProtection: props.removalPolicy === RemovalPolicy.RETAIN,
      removalPolicy: props.removalPolicy,
    });
    for (const index of [OWNER_INDEX, TIME_INDEX]) {
      this.table.addGlobalSecondaryIndex({
        indexName: index.name,
        partitionKey: { name: index.partitionKey, type: dynamodb.AttributeType.STRING },
        sortKey: { name: index.sortKey, type: dynamodb.AttributeType.STRING },
        projectionType: dynamodb.ProjectionType.INCLUDE,
        nonKeyAttributes: [...INDEX_PROJECTED_ATTRIBUTES],
      });
    }

    this.secretKey = new secretsmanager.Secret(this, 'SecretKey', {
      description: 'IM serverless: AES-256-GCM key (base64) that seals the stored cloud credentials',
      generateSecretString: {
        passwordLength: 43,
        excludePunctuation: true,
        includeSpace: false,
      },
      removalPolicy: props.removalPolicy,
    });
    acknowledge(this.secretKey, {
      id: 'AwsSolutions-SMG4',
      reason:
        'The key seals credentials already stored in the table; rotating it would make them unreadable. ' +
        'Rotation needs a re-encryption run and is a manual procedure (docs/DEPLOY.md).',
    });
  }

  /** Read and write items and query the indexes. */
  grantReadWrite(grantee: iam.IGrantable): void {
    this.table.grantReadWriteData(grantee);
    this.acknowledgeIndexAccess(grantee);
  }

  /** Read items and query the indexes. */
  grantRead(grantee: iam.IGrantable): void {
    this.table.grantReadData(grantee);
    this.acknowledgeIndexAccess(grantee);
  }

  /** The grants cover `<table>/index/*`: the owner and time indexes (and only this table's indexes). */
  private acknowledgeIndexAccess(grantee: iam.IGrantable): void {
    const principal = grantee.grantPrincipal;
    if (!(principal instanceof Construct)) return;
    acknowledgeWildcardResource(
      principal,
      `${this.table.tableArn}/index/*`,
      `Queries on the indexes of this table only (${OWNER_INDEX.name}: owner index, ${TIME_INDEX.name}: time index); ` +
        'the grant names them as <table ARN>/index/*.',
    );
  }

  /** Read the sealing key (at cold start). */
  grantSecretKeyRead(grantee: iam.IGrantable): void {
    this.secretKey.grantRead(grantee);
  }
}
