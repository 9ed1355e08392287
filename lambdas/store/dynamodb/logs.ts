/**
 * Contextualization logs as chunk items (`LOG#<scope>#<seq>`, ≤ {@link LOG_CHUNK_BYTES} each), so
 * that no item grows near the 400 KB limit. An append reserves sequence numbers with one atomic ADD
 * on the infrastructure item, then writes its chunks: safe with any number of concurrent appenders,
 * ordered by reservation. Clearing marks the sequence reached (a later append survives) and deletes
 * the chunks below it.
 */
import { PutCommand, GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { errors } from '#core/errors';
import type { LogScope } from '#core/types';
import { metaKey, splitUtf8, type Item } from '#store/dynamodb/items';
import { isConditionFailure, type Table } from '#store/dynamodb/requests';
import { PARTITION_KEY, SORT_KEY, infPk, logCutAttribute, logPrefix, logSeqAttribute, logSk, type ItemType } from '#store/dynamodb/schema';

/** Maximum UTF-8 bytes of text in one log chunk item. */
export const LOG_CHUNK_BYTES = 60 * 1024;

/** @throws ImError INF_NOT_FOUND when the infrastructure does not exist. */
export async function appendLog(table: Table, infId: string, scope: LogScope, text: string): Promise<void> {
  if (!text) return;
  const pieces = splitUtf8(text, LOG_CHUNK_BYTES);
  let last: number;
  try {
    const r = await table.send<{ Attributes?: Item }>(
      new UpdateCommand({
        TableName: table.name,
        Key: metaKey(infId),
        UpdateExpression: 'ADD #seq :n',
        ConditionExpression: `attribute_exists(${PARTITION_KEY})`,
        ExpressionAttributeNames: { '#seq': logSeqAttribute(scope) },
        ExpressionAttributeValues: { ':n': pieces.length },
        ReturnValues: 'UPDATED_NEW',
      }),
    );
    last = Number(r.Attributes?.[logSeqAttribute(scope)]);
  } catch (err) {
    if (isConditionFailure(err)) throw errors.infNotFound();
    throw err;
  }
  const first = last - pieces.length + 1;
  const items = pieces.map((piece, i) => ({
    [PARTITION_KEY]: infPk(infId),
    [SORT_KEY]: logSk(scope, first + i),
    _type: 'LOG' satisfies ItemType,
    text: piece,
  }));
  if (items.length === 1) await table.send(new PutCommand({ TableName: table.name, Item: items[0] }));
  else await table.batchWrite(items.map((Item) => ({ PutRequest: { Item } })));
}

/** The whole log: its chunks in sequence order (one Query, plus the clear mark in parallel). */
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
  const cut = Number(meta.Item?.[cutAttr] ?? 0);
  const minSk = logSk(scope, cut);
  return chunks
    .filter((c) => (c[SORT_KEY] as string) > minSk)
    .map((c) => c.text as string)
    .join('');
}

/** Empties a log (see the module comment). No infrastructure: nothing to clear. */
export async function clearLog(table: Table, infId: string, scope: LogScope): Promise<void> {
  let cut: number;
  try {
    const r = await table.send<{ Attributes?: Item }>(
      new UpdateCommand({
        TableName: table.name,
        Key: metaKey(infId),
        UpdateExpression: 'SET #cut = if_not_exists(#seq, :zero)',
        ConditionExpression: `attribute_exists(${PARTITION_KEY})`,
        ExpressionAttributeNames: { '#cut': logCutAttribute(scope), '#seq': logSeqAttribute(scope) },
        ExpressionAttributeValues: { ':zero': 0 },
        ReturnValues: 'UPDATED_NEW',
      }),
    );
    cut = Number(r.Attributes?.[logCutAttribute(scope)] ?? 0);
  } catch (err) {
    if (isConditionFailure(err)) return;
    throw err;
  }
  if (cut <= 0) return;
  const keys = await table.queryAll({
    KeyConditionExpression: '#pk = :pk AND #sk BETWEEN :from AND :to',
    ExpressionAttributeNames: { '#pk': PARTITION_KEY, '#sk': SORT_KEY },
    ExpressionAttributeValues: { ':pk': infPk(infId), ':from': logSk(scope, 0), ':to': logSk(scope, cut) },
    ProjectionExpression: '#pk, #sk',
    ConsistentRead: true,
  });
  await table.batchWrite(keys.map((Key) => ({ DeleteRequest: { Key } })));
}
