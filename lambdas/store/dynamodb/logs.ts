/**
 * Contextualization logs as chunk items (`LOG#<scope>#<time key>`, ≤ {@link LOG_CHUNK_BYTES} each), so
 * that no item grows near the 400 KB limit. An append is one write (a PutItem, or one BatchWriteItem
 * for several chunks): the chunk keys are time keys made by the writer (epoch ms, this process's own
 * sequence, a random suffix), so there is no counter to reserve first; readers sort by key. Clearing
 * records the key reached (a later append survives) and deletes the chunks before it.
 */
import { randomBytes } from 'node:crypto';
import { GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { LogScope } from '#core/types';
import { metaKey, splitUtf8, type Item } from '#store/dynamodb/items';
import { isConditionFailure, type Table } from '#store/dynamodb/requests';
import { PARTITION_KEY, SORT_KEY, infPk, logCutAttribute, logPrefix, logSk, type ItemType } from '#store/dynamodb/schema';

/** Maximum UTF-8 bytes of text in one log chunk item. */
export const LOG_CHUNK_BYTES = 60 * 1024;

/** This process's chunk sequence: orders the chunks one writer appends within a millisecond. */
let sequence = 0;
const nextSeq = () => (sequence = (sequence + 1) % 1_000_000_000);

/**
 * One write. The infrastructure's existence is not checked (that would cost a read or a transaction per
 * append): callers append to infrastructures they have just read, and the purge removes whole partitions.
 */
export async function appendLog(table: Table, infId: string, scope: LogScope, text: string): Promise<void> {
  if (!text) return;
  const pieces = splitUtf8(text, LOG_CHUNK_BYTES);
  const ms = table.now();
  const rand = randomBytes(3).toString('hex');
  const items = pieces.map((piece) => ({
    [PARTITION_KEY]: infPk(infId),
    [SORT_KEY]: logSk(scope, ms, nextSeq(), rand),
    _type: 'LOG' satisfies ItemType,
    text: piece,
  }));
  if (items.length > 1) {
    await table.batchWrite(items.map((Item) => ({ PutRequest: { Item } })));
    return;
  }
  await table.send(new PutCommand({ TableName: table.name, Item: items[0] }));
}

/** The whole log: its chunks in key order (one Query, plus the clear mark in parallel). */
export async function getLog(table: Table, infId: string, scope: LogScope): Promise<string> {
  const cutAttr = logCutAttribute(scope);
  const [meta, chunks] = await Promise.all([
    table.send<{ Item?: Item }>(
      new GetCommand({
        TableName: table.name,
        Key: metaKey(infId),
        ProjectionExpression: '#cut',
        ExpressionAttributeNames: { '#cut': cutAttr },
        ConsistentRead: true,
      }),
    ),
    table.queryAll({
      KeyConditionExpression: '#pk = :pk AND begins_with(#sk, :prefix)',
      ExpressionAttributeNames: { '#pk': PARTITION_KEY, '#sk': SORT_KEY, '#text': 'text' },
      ExpressionAttributeValues: { ':pk': infPk(infId), ':prefix': logPrefix(scope) },
      ProjectionExpression: '#sk, #text',
      ConsistentRead: true,
    }),
  ]);
  const cut = meta.Item?.[cutAttr] as string | undefined;
  return chunks
    .filter((c) => cut === undefined || (c[SORT_KEY] as string) > cut)
    .map((c) => c.text as string)
    .join('');
}

/** Empties a log (see the module comment). No infrastructure: nothing to clear. */
export async function clearLog(table: Table, infId: string, scope: LogScope): Promise<void> {
  // Everything this process wrote up to now; what it appends afterwards (next sequence) sorts after the cut.
  const cut = logSk(scope, table.now(), sequence, 'ffffff');
  try {
    await table.send(
      new UpdateCommand({
        TableName: table.name,
        Key: metaKey(infId),
        UpdateExpression: 'SET #cut = :cut',
        ConditionExpression: `attribute_exists(${PARTITION_KEY})`,
        ExpressionAttributeNames: { '#cut': logCutAttribute(scope) },
        ExpressionAttributeValues: { ':cut': cut },
      }),
    );
  } catch (err) {
    if (isConditionFailure(err)) return;
    throw err;
  }
  const keys = await table.queryAll({
    KeyConditionExpression: '#pk = :pk AND #sk BETWEEN :from AND :to',
    ExpressionAttributeNames: { '#pk': PARTITION_KEY, '#sk': SORT_KEY },
    ExpressionAttributeValues: { ':pk': infPk(infId), ':from': logPrefix(scope), ':to': cut },
    ProjectionExpression: '#pk, #sk',
    ConsistentRead: true,
  });
  await table.batchWrite(keys.map((Key) => ({ DeleteRequest: { Key } })));
}
