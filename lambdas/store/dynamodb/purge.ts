/**
 * Removal of whole infrastructure partitions: one infrastructure's data, and the purge of old ones
 * by index queries (the time index is sparse: only infrastructure items and tombstones have GSI2
 * keys, so the purge reads only what it removes; nothing scans the table).
 */
import type { QueryCommandInput } from '@aws-sdk/lib-dynamodb';
import type { PurgeOptions } from '#core/types';
import { mapLimit, type Table } from '#store/dynamodb/requests';
import { PARTITION_KEY, SORT_KEY, TIME_INDEX, TIME_PARTITION_ALL, TIME_PARTITION_DELETED, infIdFromPk, infPk, timeUpperBound } from '#store/dynamodb/schema';

/** Query of the partition's keys, then BatchWriteItem deletes; returns the number of items. */
export async function deletePartition(table: Table, infId: string): Promise<number> {
  const keys = await table.queryAll({
    KeyConditionExpression: '#pk = :pk',
    ExpressionAttributeNames: { '#pk': PARTITION_KEY, '#sk': SORT_KEY },
    ExpressionAttributeValues: { ':pk': infPk(infId) },
    ProjectionExpression: '#pk, #sk',
    ConsistentRead: true,
  });
  await table.batchWrite(keys.map((Key) => ({ DeleteRequest: { Key } })));
  return keys.length;
}

/** A time-index partition, optionally only sort keys before `before`, optionally created before. */
function timeQuery(partition: string, before?: number, createdBefore?: number): Omit<QueryCommandInput, 'TableName'> {
  const names: Record<string, string> = { '#pk': TIME_INDEX.partitionKey, '#tablePk': PARTITION_KEY };
  const values: Record<string, unknown> = { ':pk': partition };
  let keyCondition = '#pk = :pk';
  if (before !== undefined) {
    keyCondition += ' AND #sk < :before';
    names['#sk'] = TIME_INDEX.sortKey;
    values[':before'] = timeUpperBound(before);
  }
  let filter: string | undefined;
  if (createdBefore !== undefined) {
    filter = '#created < :created';
    names['#created'] = 'createdAt';
    values[':created'] = createdBefore;
  }
  return {
    IndexName: TIME_INDEX.name,
    KeyConditionExpression: keyCondition,
    FilterExpression: filter,
    ExpressionAttributeNames: names,
    ExpressionAttributeValues: values,
    ProjectionExpression: '#tablePk',
  };
}

/**
 * Removes whole partitions:
 *  - deleted infrastructures whose deletedAt is before `deletedBefore` (tombstones, GSI2 `DELETED`);
 *  - infrastructures created before `createdBefore`, deleted or not (GSI2 `INF` and the tombstones);
 *  - deleted ones created before `deletedCreatedBefore` (IM's delete_old_infs).
 */
export async function purge(table: Table, opts: PurgeOptions): Promise<{ infrastructures: number; items: number }> {
  const queries: Omit<QueryCommandInput, 'TableName'>[] = [];
  if (opts.deletedBefore !== undefined) queries.push(timeQuery(TIME_PARTITION_DELETED, opts.deletedBefore));
  if (opts.createdBefore !== undefined) {
    queries.push(timeQuery(TIME_PARTITION_ALL, opts.createdBefore));
    // Deleted ones too, even when TTL already removed their record: the tombstone has createdAt.
    queries.push(timeQuery(TIME_PARTITION_DELETED, undefined, opts.createdBefore));
  }
  if (opts.deletedCreatedBefore !== undefined) queries.push(timeQuery(TIME_PARTITION_DELETED, undefined, opts.deletedCreatedBefore));
  const ids = new Set<string>();
  for (const items of await Promise.all(queries.map((q) => table.queryAll(q)))) {
    for (const item of items) ids.add(infIdFromPk(item[PARTITION_KEY] as string));
  }
  const counts = await mapLimit([...ids], 4, (id) => deletePartition(table, id));
  return { infrastructures: counts.filter((n) => n > 0).length, items: counts.reduce((a, b) => a + b, 0) };
}
