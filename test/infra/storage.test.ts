import { describe, expect, it } from 'vitest';
import { RemovalPolicy } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import { INDEX_PROJECTED_ATTRIBUTES, OWNER_INDEX, PARTITION_KEY, SORT_KEY, TIME_INDEX, TTL_ATTRIBUTE } from '#store/dynamodb/schema';
import { Storage } from '../../infra/lib/constructs/storage.ts';
import { statementsOfRole, testStack } from './helpers.ts';

function build(removalPolicy: RemovalPolicy, tableName?: string) {
  const stack = testStack();
  const storage = new Storage(stack, 'Storage', { removalPolicy, tableName });
  const role = new iam.Role(stack, 'Reader', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
  storage.grantRead(role);
  return { stack, template: Template.fromStack(stack) };
}

describe('Storage construct', () => {
  const { template } = build(RemovalPolicy.RETAIN);

  it('creates one on-demand table with the key schema of lambdas/store/schema.ts', () => {
    template.resourceCountIs('AWS::DynamoDB::Table', 1);
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      BillingMode: 'PAY_PER_REQUEST',
      KeySchema: [
        { AttributeName: PARTITION_KEY, KeyType: 'HASH' },
        { AttributeName: SORT_KEY, KeyType: 'RANGE' },
      ],
    });
  });

  it('has TTL, point-in-time recovery and encryption at rest', () => {
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      TimeToLiveSpecification: { AttributeName: TTL_ATTRIBUTE, Enabled: true },
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      SSESpecification: { SSEEnabled: true },
    });
  });

  it('has the owner index and the time index, projecting what listings and the purge read', () => {
    const table = Object.values(template.findResources('AWS::DynamoDB::Table'))[0];
    const indexes = table.Properties.GlobalSecondaryIndexes as {
      IndexName: string;
      KeySchema: { AttributeName: string; KeyType: string }[];
      Projection: { ProjectionType: string; NonKeyAttributes: string[] };
    }[];
    expect(indexes.map((i) => i.IndexName).sort()).toEqual([OWNER_INDEX.name, TIME_INDEX.name].sort());
    for (const index of [OWNER_INDEX, TIME_INDEX]) {
      const gsi = indexes.find((i) => i.IndexName === index.name);
      expect(gsi?.KeySchema).toEqual([
        { AttributeName: index.partitionKey, KeyType: 'HASH' },
        { AttributeName: index.sortKey, KeyType: 'RANGE' },
      ]);
      expect(gsi?.Projection.ProjectionType).toBe('INCLUDE');
      expect(gsi?.Projection.NonKeyAttributes.sort()).toEqual([...INDEX_PROJECTED_ATTRIBUTES].sort());
    }
    const attributes = table.Properties.AttributeDefinitions as { AttributeName: string; AttributeType: string }[];
    expect(attributes.every((a) => a.AttributeType === 'S')).toBe(true);
  });

  it('retains the table (with deletion protection) by default', () => {
    template.hasResource('AWS::DynamoDB::Table', {
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
      Properties: Match.objectLike({ DeletionProtectionEnabled: true }),
    });
  });

  it('deletes the table with removalPolicy destroy, and takes a table name', () => {
    const t = build(RemovalPolicy.DESTROY, 'im-test').template;
    t.hasResource('AWS::DynamoDB::Table', {
      DeletionPolicy: 'Delete',
      Properties: Match.objectLike({ TableName: 'im-test', DeletionProtectionEnabled: false }),
    });
  });

  it('generates the sealing key in Secrets Manager (43 letters and digits = 32 bytes base64)', () => {
    template.hasResourceProperties('AWS::SecretsManager::Secret', {
      GenerateSecretString: { PasswordLength: 43, ExcludePunctuation: true, IncludeSpace: false },
    });
    expect(Buffer.from('A'.repeat(43), 'base64')).toHaveLength(32);
  });

  it('grants read-only data access with grantRead', () => {
    const roleId = Object.keys(template.findResources('AWS::IAM::Role'))[0];
    const actions = statementsOfRole(template, roleId).flatMap((s) => s.Action);
    expect(actions).toContain('dynamodb:GetItem');
    expect(actions).toContain('dynamodb:Query');
    expect(actions.some((a) => /Put|Update|Delete|Write/.test(String(a)))).toBe(false);
  });
});
