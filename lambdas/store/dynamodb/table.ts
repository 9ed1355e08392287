/**
 * Table creation (local mode and tests; in AWS the CDK storage construct creates the table with the
 * same keys, indexes and TTL attribute from ./schema.ts).
 */
import {
  CreateTableCommand,
  DescribeTimeToLiveCommand,
  UpdateTimeToLiveCommand,
  waitUntilTableExists,
  type DynamoDBClient,
  type GlobalSecondaryIndex,
} from '@aws-sdk/client-dynamodb';
import { INDEX_PROJECTED_ATTRIBUTES, KEY_ATTRIBUTES, OWNER_INDEX, PARTITION_KEY, SORT_KEY, TIME_INDEX, TTL_ATTRIBUTE } from '#store/dynamodb/schema';

function gsi(index: { name: string; partitionKey: string; sortKey: string }): GlobalSecondaryIndex {
  return {
    IndexName: index.name,
    KeySchema: [
      { AttributeName: index.partitionKey, KeyType: 'HASH' },
      { AttributeName: index.sortKey, KeyType: 'RANGE' },
    ],
    Projection: { ProjectionType: 'INCLUDE', NonKeyAttributes: [...INDEX_PROJECTED_ATTRIBUTES] },
  };
}

/**
 * Creates the table if it does not exist (PAY_PER_REQUEST, the owner and time GSIs), waits until
 * it is ACTIVE, and enables TTL on `expiresAt`. Idempotent.
 */
export async function createTable(client: DynamoDBClient, tableName: string): Promise<void> {
  try {
    await client.send(
      new CreateTableCommand({
        TableName: tableName,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: KEY_ATTRIBUTES.map((name) => ({ AttributeName: name, AttributeType: 'S' })),
        KeySchema: [
          { AttributeName: PARTITION_KEY, KeyType: 'HASH' },
          { AttributeName: SORT_KEY, KeyType: 'RANGE' },
        ],
        GlobalSecondaryIndexes: [gsi(OWNER_INDEX), gsi(TIME_INDEX)],
      }),
    );
  } catch (err) {
    if ((err as { name?: string }).name !== 'ResourceInUseException') throw err;
  }
  await waitUntilTableExists({ client, maxWaitTime: 120, minDelay: 1, maxDelay: 5 }, { TableName: tableName });
  const ttl = await client.send(new DescribeTimeToLiveCommand({ TableName: tableName }));
  const status = ttl.TimeToLiveDescription?.TimeToLiveStatus;
  if (status !== 'ENABLED' && status !== 'ENABLING') {
    await client.send(
      new UpdateTimeToLiveCommand({ TableName: tableName, TimeToLiveSpecification: { Enabled: true, AttributeName: TTL_ATTRIBUTE } }),
    );
  }
}
