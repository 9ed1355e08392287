/**
 * The table as the store's files use it: one DynamoDB document client, the table name, the clock,
 * and the requests every part needs (paginated Query, batched writes and reads), with the
 * classification of DynamoDB's errors in one place.
 *
 * Outages: a request that times out, cannot connect, or gets a 5xx / throttling answer after the
 * SDK's own retries becomes ImError STORE_UNAVAILABLE (503 "The infrastructure store is
 * unavailable…"). The table then stays "down" for {@link DOWN_HOLD_MS}: calls fail at once rather than
 * each waiting for its own timeout, and the first call after that probes the store again. The
 * state is reported by {@link Table.health} (local mode's /health).
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  BatchGetCommand,
  BatchWriteCommand,
  DynamoDBDocumentClient,
  QueryCommand,
  type QueryCommandInput,
} from '@aws-sdk/lib-dynamodb';
import { errors, ImError } from '#core/errors';
import type { Item } from '#store/dynamodb/items';

/** How long (ms) the table stays marked unavailable after a failed request. */
export const DOWN_HOLD_MS = 1000;
const BATCH_WRITE_MAX = 25;
const BATCH_GET_MAX = 100;
const BATCH_CONCURRENCY = 8;
const BATCH_RETRIES = 10;

export type WriteRequest = { PutRequest: { Item: Item } } | { DeleteRequest: { Key: Item } };

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const backoff = (attempt: number) => sleep(Math.random() * Math.min(500, 10 * 2 ** attempt));

export function chunk<T>(list: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < list.length; i += size) out.push(list.slice(i, i + size));
  return out;
}

export { mapLimit } from '#core/concurrency';
import { mapLimit } from '#core/concurrency';

// ---- error classification ----------------------------------------------------------------------

const errorName = (err: unknown): string | undefined => (err as { name?: string } | undefined)?.name;

export function isConditionFailure(err: unknown): boolean {
  return errorName(err) === 'ConditionalCheckFailedException';
}

/** A transaction cancelled by a failed condition or by a concurrent transaction on an item. */
export function isTransactionConflict(err: unknown): boolean {
  if (errorName(err) !== 'TransactionCanceledException') return false;
  const reasons = (err as { CancellationReasons?: { Code?: string }[] }).CancellationReasons ?? [];
  return reasons.some((r) => r.Code === 'ConditionalCheckFailed' || r.Code === 'TransactionConflict');
}

function isItemTooLarge(err: unknown): boolean {
  const message = (err as Error | undefined)?.message ?? '';
  return /item size|maximum allowed size/i.test(message);
}

/** Rethrows DynamoDB's item-size refusal as a client error. */
export function rethrowWrite(err: unknown): never {
  if (isItemTooLarge(err)) throw errors.badRequest('The data is too large to be stored (a DynamoDB item is limited to 400 KB).', err);
  throw err;
}

const UNAVAILABLE_NAMES = new Set([
  'TimeoutError',
  'RequestTimeout',
  'RequestTimeoutException',
  'ServiceUnavailable',
  'ServiceUnavailableException',
  'InternalServerError',
  'InternalFailure',
  'ThrottlingException',
  'ProvisionedThroughputExceededException',
  'RequestLimitExceeded',
  'TransactionInProgressException',
]);
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ENOENT', // the local socket is gone (DynamoDB Local restarting)
  'ERR_STREAM_PREMATURE_CLOSE',
]);

/** Whether an error means "the store did not answer" (rather than "it refused the request"). */
export function isUnavailable(err: unknown): boolean {
  if (err instanceof ImError) return err.code === 'STORE_UNAVAILABLE';
  const e = err as { name?: string; code?: string; cause?: { code?: string }; $metadata?: { httpStatusCode?: number }; message?: string } | undefined;
  if (!e) return false;
  if (e.name && UNAVAILABLE_NAMES.has(e.name)) return true;
  if ((e.code && NETWORK_CODES.has(e.code)) || (e.cause?.code && NETWORK_CODES.has(e.cause.code))) return true;
  if ((e.$metadata?.httpStatusCode ?? 0) >= 500) return true;
  return /socket hang up|connect ECONNREFUSED|read ECONNRESET/.test(e.message ?? '');
}

// ---- the table -------------------------------------------------------------------------------------

export interface TableHealth {
  /** `ok` once a request succeeded since the last failure; `unavailable` after a failure. */
  state: 'ok' | 'unavailable';
  /** Epoch ms of the last state change (0: no request yet). */
  since: number;
  /** The last failure's message, while unavailable. */
  error?: string;
}

export class Table {
  readonly doc: DynamoDBDocumentClient;
  private downUntil = 0;
  private status: TableHealth = { state: 'ok', since: 0 };

  constructor(
    client: DynamoDBClient,
    readonly name: string,
    readonly now: () => number,
  ) {
    this.doc = DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
  }

  /** The store's state as the last requests saw it. */
  health(): TableHealth {
    return { ...this.status };
  }

  /**
   * Sends a command. Outages become ImError STORE_UNAVAILABLE (see the module comment); every other
   * error is DynamoDB's own, for the caller to interpret (conditions, transactions, sizes).
   */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  async send<T = any>(command: object): Promise<T> {
    if (Date.now() < this.downUntil) throw errors.storeUnavailable(this.status.error);
    try {
      const out = (await this.doc.send(command as never)) as T;
      if (this.status.state !== 'ok') this.status = { state: 'ok', since: Date.now() };
      return out;
    } catch (err) {
      if (!isUnavailable(err)) throw err;
      this.downUntil = Date.now() + DOWN_HOLD_MS;
      const message = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
      if (this.status.state !== 'unavailable') this.status = { state: 'unavailable', since: Date.now(), error: message };
      throw err instanceof ImError ? err : errors.storeUnavailable(err);
    }
  }

  /** Every page of a Query. */
  async queryAll(input: Omit<QueryCommandInput, 'TableName'>): Promise<Item[]> {
    const out: Item[] = [];
    let startKey: Record<string, unknown> | undefined;
    do {
      const r = await this.send<{ Items?: Item[]; LastEvaluatedKey?: Record<string, unknown> }>(
        new QueryCommand({ ...input, TableName: this.name, ExclusiveStartKey: startKey }),
      );
      if (r.Items) out.push(...r.Items);
      startKey = r.LastEvaluatedKey;
    } while (startKey);
    return out;
  }

  /** BatchWriteItem in calls of 25 (up to 8 in flight), retrying unprocessed items with backoff. */
  async batchWrite(requests: WriteRequest[]): Promise<void> {
    await mapLimit(chunk(requests, BATCH_WRITE_MAX), BATCH_CONCURRENCY, async (batch) => {
      let pending: WriteRequest[] = batch;
      for (let attempt = 0; pending.length; attempt++) {
        if (attempt > BATCH_RETRIES) throw errors.storeUnavailable(`BatchWriteItem: ${pending.length} items left unprocessed`);
        if (attempt > 0) await backoff(attempt);
        const r = await this.send<{ UnprocessedItems?: Record<string, WriteRequest[]> }>(
          new BatchWriteCommand({ RequestItems: { [this.name]: pending } }),
        );
        pending = r.UnprocessedItems?.[this.name] ?? [];
      }
    });
  }

  /** BatchGetItem (strongly consistent) in calls of 100, retrying unprocessed keys; any order. */
  async batchGet(keys: Item[], projection?: { expression: string; names: Record<string, string> }): Promise<Item[]> {
    const pages = await mapLimit(chunk(keys, BATCH_GET_MAX), BATCH_CONCURRENCY, async (batch) => {
      const found: Item[] = [];
      let pending: Item[] = batch;
      for (let attempt = 0; pending.length; attempt++) {
        if (attempt > BATCH_RETRIES) throw errors.storeUnavailable(`BatchGetItem: ${pending.length} keys left unprocessed`);
        if (attempt > 0) await backoff(attempt);
        const request = {
          Keys: pending,
          ConsistentRead: true,
          ...(projection ? { ProjectionExpression: projection.expression, ExpressionAttributeNames: projection.names } : {}),
        };
        const r = await this.send<{ Responses?: Record<string, Item[]>; UnprocessedKeys?: Record<string, { Keys?: Item[] }> }>(
          new BatchGetCommand({ RequestItems: { [this.name]: request } }),
        );
        found.push(...(r.Responses?.[this.name] ?? []));
        pending = r.UnprocessedKeys?.[this.name]?.Keys ?? [];
      }
      return found;
    });
    return pages.flat();
  }
}
