/**
 * {@link InfrastructureStore} on one DynamoDB table (single-table design, see ./schema.ts).
 *
 * - Infrastructure and VM items carry a `version`; every update is a conditional write on it and
 *   a failed condition becomes {@link VersionConflictError} (use ./mutate.ts to retry).
 * - `vmCounter` and the log sequence counters are atomic ADD counters on the infrastructure item.
 *   They do not bump `version`, and `updateInfrastructure` ignores `vmCounter` in a patch, so a
 *   stale read can never make a VM id be handed out twice.
 * - Logs are chunk items (≤ {@link LOG_CHUNK_BYTES} each): an append reserves sequence numbers
 *   with one ADD, then writes its chunks; readers sort by the (padded) sequence in the key.
 * - Large text fields (RADL, TOSCA, VM info) are stored gzip-compressed above
 *   {@link COMPRESS_ABOVE_BYTES}, keeping items far below the 400 KB item limit.
 * - Reads filter out items whose TTL (`expiresAt`) has passed: DynamoDB deletes them late and
 *   DynamoDB Local never does.
 */
import { gunzipSync, gzipSync } from 'node:zlib';
import {
  CreateTableCommand,
  DescribeTimeToLiveCommand,
  UpdateTimeToLiveCommand,
  waitUntilTableExists,
  type DynamoDBClient,
  type GlobalSecondaryIndex,
} from '@aws-sdk/client-dynamodb';
import {
  BatchGetCommand,
  BatchWriteCommand,
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  TransactWriteCommand,
  UpdateCommand,
  type QueryCommandInput,
  type TransactWriteCommandInput,
} from '@aws-sdk/lib-dynamodb';
import { errors } from '#core/errors';
import {
  VersionConflictError,
  type InfraRecord,
  type InfrastructureStore,
  type LogScope,
  type PurgeOptions,
  type VmRecord,
} from '#core/types';
import {
  INDEX_PROJECTED_ATTRIBUTES,
  KEY_ATTRIBUTES,
  META_SK,
  OWNER_INDEX,
  PARTITION_KEY,
  SORT_KEY,
  TIME_INDEX,
  TIME_PARTITION_ALL,
  TIME_PARTITION_DELETED,
  TOMBSTONE_SK,
  TTL_ATTRIBUTE,
  VM_SK_PREFIX,
  infIdFromPk,
  infPk,
  logCutAttribute,
  logPrefix,
  logSeqAttribute,
  logSk,
  ownerIndexPk,
  ownerSk,
  timeSortKey,
  timeUpperBound,
  vmSk,
  type ItemType,
} from '#store/schema';

/** Maximum UTF-8 bytes of text in one log chunk item. */
export const LOG_CHUNK_BYTES = 60 * 1024;
/** Text fields larger than this (UTF-8 bytes) are stored gzip-compressed. */
export const COMPRESS_ABOVE_BYTES = 32 * 1024;
/** Fields that may be large and are compressed above {@link COMPRESS_ABOVE_BYTES}. */
const COMPRESSIBLE = new Set(['radl', 'tosca', 'info', 'requestedRadl']);
const GZ_PREFIX = '_gz_';
const KEY_ATTRIBUTE_SET = new Set<string>(KEY_ATTRIBUTES);
/** A patch that touches one of these also rewrites the owner links / tombstone (one transaction). */
const INDEXED_FIELDS = ['status', 'ownerKeys', 'createdAt', 'deletedAt', 'expiresAt'] as const;
/** Fields a patch never changes: keys, version, and the atomic VM id counter. */
const INF_IMMUTABLE = new Set(['id', 'version', 'vmCounter']);
const VM_IMMUTABLE = new Set(['infId', 'vmId', 'version']);
const DAY_MS = 86_400_000;
const BATCH_WRITE_MAX = 25;
/**
 * Items a creation writes in one transaction at most (record, owner links, VMs). Above it parallel
 * BatchWriteItem calls are quicker (DynamoDB allows 100 items per transaction).
 */
export const CREATE_TRANSACTION_MAX = 25;
const BATCH_GET_MAX = 100;
const BATCH_CONCURRENCY = 8;
const BATCH_RETRIES = 10;

type Item = Record<string, unknown>;
type InfraPatch = Partial<Omit<InfraRecord, 'id' | 'version'>>;
type VmPatch = Partial<Omit<VmRecord, 'infId' | 'vmId' | 'version'>>;
type WriteRequest = { PutRequest: { Item: Item } } | { DeleteRequest: { Key: Item } };
type TransactItem = NonNullable<TransactWriteCommandInput['TransactItems']>[number];

export interface DynamoStoreOptions {
  client: DynamoDBClient;
  tableName: string;
  /** Clock (epoch ms); defaults to Date.now. Drives updatedAt, deletedAt and the TTL filter. */
  now?: () => number;
  /**
   * When set, marking an infrastructure deleted without an explicit `expiresAt` sets it to
   * deletedAt + this many days (the TTL). Unset: the caller decides the TTL.
   */
  deletedRetentionDays?: number;
}

export interface ListOptions {
  /** Only this owner's infrastructures (owner index). Without it: all (admin). */
  ownerKey?: string;
  /** Include infrastructures with status 'deleted' (never expired ones). */
  includeDeleted?: boolean;
}

// ---------------------------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------------------------

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const backoff = (attempt: number) => sleep(Math.random() * Math.min(500, 10 * 2 ** attempt));

function chunk<T>(list: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < list.length; i += size) out.push(list.slice(i, i + size));
  return out;
}

/** Runs fn over items with at most `limit` calls in flight; results in input order. */
async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

const errorName = (err: unknown): string | undefined => (err as { name?: string } | undefined)?.name;

function isConditionFailure(err: unknown): boolean {
  return errorName(err) === 'ConditionalCheckFailedException';
}

/** A transaction cancelled by a failed condition or by a concurrent transaction on an item. */
function isTransactionConflict(err: unknown): boolean {
  if (errorName(err) !== 'TransactionCanceledException') return false;
  const reasons = (err as { CancellationReasons?: { Code?: string }[] }).CancellationReasons ?? [];
  return reasons.some((r) => r.Code === 'ConditionalCheckFailed' || r.Code === 'TransactionConflict');
}

function isItemTooLarge(err: unknown): boolean {
  const message = (err as Error | undefined)?.message ?? '';
  return /item size|maximum allowed size/i.test(message);
}

/** Rethrows DynamoDB's item-size refusal as a client error. */
function rethrowWrite(err: unknown): never {
  if (isItemTooLarge(err)) throw errors.badRequest('The data is too large to be stored (a DynamoDB item is limited to 400 KB).', err);
  throw err;
}

/** Splits text into pieces of at most maxBytes UTF-8 bytes, never inside a character. */
export function splitUtf8(text: string, maxBytes: number): string[] {
  if (text.length * 3 <= maxBytes) return [text];
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length <= maxBytes) return [text];
  const out: string[] = [];
  let start = 0;
  while (start < bytes.length) {
    let end = Math.min(start + maxBytes, bytes.length);
    // Back off to the start of a character (continuation bytes are 10xxxxxx).
    while (end < bytes.length && end > start && (bytes[end] & 0xc0) === 0x80) end--;
    out.push(bytes.toString('utf8', start, end));
    start = end;
  }
  return out;
}

function isLarge(value: string): boolean {
  return value.length * 3 > COMPRESS_ABOVE_BYTES && Buffer.byteLength(value, 'utf8') > COMPRESS_ABOVE_BYTES;
}

/** Record fields → item attributes (undefined dropped, large text compressed), plus `keys`. */
function toItem(record: object, keys: Item): Item {
  const item: Item = {};
  for (const [field, value] of Object.entries(record)) {
    if (value === undefined) continue;
    if (COMPRESSIBLE.has(field) && typeof value === 'string' && isLarge(value)) item[GZ_PREFIX + field] = gzipSync(value);
    else item[field] = value;
  }
  return Object.assign(item, keys);
}

/** Item → record: keys and internal (`_`-prefixed) attributes dropped, compressed text restored. */
function fromItem<T>(item: Item): T {
  const record: Item = {};
  for (const [attr, value] of Object.entries(item)) {
    if (KEY_ATTRIBUTE_SET.has(attr)) continue;
    if (attr.startsWith('_')) {
      if (attr.startsWith(GZ_PREFIX)) record[attr.slice(GZ_PREFIX.length)] = gunzipSync(value as Uint8Array).toString('utf8');
      continue;
    }
    record[attr] = value;
  }
  return record as T;
}

/** Builds an UpdateExpression with generated placeholder names. */
class UpdateBuilder {
  readonly names: Record<string, string> = {};
  readonly values: Record<string, unknown> = {};
  private readonly sets: string[] = [];
  private readonly removes: string[] = [];
  private readonly adds: string[] = [];
  private readonly nameOf = new Map<string, string>();
  private counter = 0;

  name(attr: string): string {
    let placeholder = this.nameOf.get(attr);
    if (!placeholder) {
      placeholder = `#a${this.nameOf.size}`;
      this.nameOf.set(attr, placeholder);
      this.names[placeholder] = attr;
    }
    return placeholder;
  }

  value(v: unknown): string {
    const placeholder = `:v${this.counter++}`;
    this.values[placeholder] = v;
    return placeholder;
  }

  set(attr: string, v: unknown): this {
    this.sets.push(`${this.name(attr)} = ${this.value(v)}`);
    return this;
  }

  remove(attr: string): this {
    this.removes.push(this.name(attr));
    return this;
  }

  add(attr: string, v: number): this {
    this.adds.push(`${this.name(attr)} ${this.value(v)}`);
    return this;
  }

  /** Applies a record patch: undefined values remove the attribute, large text is compressed. */
  patch(patch: object, immutable: Set<string>): this {
    for (const [field, value] of Object.entries(patch)) {
      if (immutable.has(field) || KEY_ATTRIBUTE_SET.has(field) || field.startsWith('_')) continue;
      const compressible = COMPRESSIBLE.has(field);
      if (value === undefined) {
        this.remove(field);
        if (compressible) this.remove(GZ_PREFIX + field);
      } else if (compressible && typeof value === 'string' && isLarge(value)) {
        this.set(GZ_PREFIX + field, gzipSync(value)).remove(field);
      } else {
        this.set(field, value);
        if (compressible) this.remove(GZ_PREFIX + field);
      }
    }
    return this;
  }

  expression(): string {
    const parts: string[] = [];
    if (this.sets.length) parts.push(`SET ${this.sets.join(', ')}`);
    if (this.removes.length) parts.push(`REMOVE ${this.removes.join(', ')}`);
    if (this.adds.length) parts.push(`ADD ${this.adds.join(', ')}`);
    return parts.join(' ');
  }
}

// ---------------------------------------------------------------------------------------------
// The store
// ---------------------------------------------------------------------------------------------

/** DynamoDB implementation of the {@link InfrastructureStore} port. */
export class DynamoInfrastructureStore implements InfrastructureStore {
  private readonly doc: DynamoDBDocumentClient;
  private readonly table: string;
  private readonly now: () => number;
  private readonly retentionDays?: number;

  /**
   * @param opts.client a DynamoDB client (reused for every call; the caller owns it).
   * @param opts.tableName the table made by {@link createTable} or the CDK storage construct.
   * @param opts.now clock in epoch ms (tests move it to check TTL filtering).
   * @param opts.deletedRetentionDays optional default TTL for infrastructures marked deleted.
   */
  constructor(opts: DynamoStoreOptions) {
    this.doc = DynamoDBDocumentClient.from(opts.client, {
      marshallOptions: { removeUndefinedValues: true },
    });
    this.table = opts.tableName;
    this.now = opts.now ?? Date.now;
    this.retentionDays = opts.deletedRetentionDays;
  }

  private isExpired(item: Item): boolean {
    const ttl = item[TTL_ATTRIBUTE];
    return typeof ttl === 'number' && ttl * 1000 <= this.now();
  }

  // ---- infrastructure items ------------------------------------------------------------------

  private metaItem(inf: InfraRecord): Item {
    return toItem(inf, {
      [PARTITION_KEY]: infPk(inf.id),
      [SORT_KEY]: META_SK,
      _type: 'INF' satisfies ItemType,
      [TIME_INDEX.partitionKey]: TIME_PARTITION_ALL,
      [TIME_INDEX.sortKey]: timeSortKey(inf.createdAt, inf.id),
    });
  }

  /** Owner link: the projected attributes let listings filter without reading the record. */
  private ownerLinkItem(inf: InfraRecord, ownerKey: string): Item {
    return toItem(
      { id: inf.id, status: inf.status, createdAt: inf.createdAt, deletedAt: inf.deletedAt, expiresAt: inf.expiresAt },
      {
        [PARTITION_KEY]: infPk(inf.id),
        [SORT_KEY]: ownerSk(ownerKey),
        _type: 'OWNER' satisfies ItemType,
        [OWNER_INDEX.partitionKey]: ownerIndexPk(ownerKey),
        [OWNER_INDEX.sortKey]: timeSortKey(inf.createdAt, inf.id),
      },
    );
  }

  /** Tombstone of a deleted infrastructure: no TTL, so that the purge always finds the partition. */
  private tombstoneItem(inf: InfraRecord): Item {
    const deletedAt = inf.deletedAt ?? inf.updatedAt;
    return {
      [PARTITION_KEY]: infPk(inf.id),
      [SORT_KEY]: TOMBSTONE_SK,
      _type: 'TOMBSTONE' satisfies ItemType,
      id: inf.id,
      status: 'deleted',
      createdAt: inf.createdAt,
      deletedAt,
      [TIME_INDEX.partitionKey]: TIME_PARTITION_DELETED,
      [TIME_INDEX.sortKey]: timeSortKey(deletedAt, inf.id),
    };
  }

  /**
   * Creates the infrastructure item, its owner links (and a tombstone if created deleted) in one
   * transaction. Throws VersionConflictError when the id already exists.
   */
  async createInfrastructure(inf: InfraRecord): Promise<void> {
    await this.createItems(inf, []);
  }

  /**
   * Creates a NEW infrastructure together with its first VM records. With few items (record,
   * owner links and VMs ≤ {@link CREATE_TRANSACTION_MAX}) it is one transaction: one round trip,
   * and never a record without its VMs (transactional writes cost twice the write units of plain
   * ones in AWS). With more, {@link createInfrastructure} then {@link putVms}: if that second step
   * fails, the record exists without (all) its VMs and the error is thrown.
   *
   * The id must never have been used (a random UUID): callers may then take these VMs as all the
   * VMs of the infrastructure (the record cache does).
   *
   * @throws VersionConflictError when the id already exists.
   */
  async createInfrastructureWithVms(inf: InfraRecord, vms: VmRecord[]): Promise<void> {
    if (vms.some((vm) => vm.infId !== inf.id)) throw errors.internal('createInfrastructureWithVms: a VM of another infrastructure');
    const ownerLinks = new Set(inf.ownerKeys).size;
    if (1 + ownerLinks + (inf.status === 'deleted' ? 1 : 0) + vms.length > CREATE_TRANSACTION_MAX) {
      await this.createItems(inf, []);
      await this.putVms(vms);
      return;
    }
    await this.createItems(inf, vms);
  }

  /** The creation transaction (a conditional PutItem alone when nothing goes with the record). */
  private async createItems(inf: InfraRecord, vms: VmRecord[]): Promise<void> {
    const ownerKeys = [...new Set(inf.ownerKeys)];
    const meta = this.metaItem(inf);
    const condition = `attribute_not_exists(${PARTITION_KEY})`;
    try {
      if (ownerKeys.length === 0 && inf.status !== 'deleted' && vms.length === 0) {
        await this.doc.send(new PutCommand({ TableName: this.table, Item: meta, ConditionExpression: condition }));
        return;
      }
      const items: TransactItem[] = [{ Put: { TableName: this.table, Item: meta, ConditionExpression: condition } }];
      for (const key of ownerKeys) items.push({ Put: { TableName: this.table, Item: this.ownerLinkItem(inf, key) } });
      if (inf.status === 'deleted') items.push({ Put: { TableName: this.table, Item: this.tombstoneItem(inf) } });
      for (const vm of vms) items.push({ Put: { TableName: this.table, Item: this.vmItem(vm) } });
      await this.doc.send(new TransactWriteCommand({ TransactItems: items }));
    } catch (err) {
      if (isConditionFailure(err) || isTransactionConflict(err)) {
        throw new VersionConflictError(`Infrastructure ${inf.id} already exists`);
      }
      rethrowWrite(err);
    }
  }

  /**
   * The infrastructure record (strongly consistent read), deleted ones included so that the core
   * can answer "Deleted infrastructure."; undefined when missing, purged or past its TTL.
   */
  async getInfrastructure(infId: string): Promise<InfraRecord | undefined> {
    const item = await this.getMetaItem(infId);
    return item ? fromItem<InfraRecord>(item) : undefined;
  }

  private async getMetaItem(infId: string): Promise<Item | undefined> {
    const r = await this.doc.send(
      new GetCommand({ TableName: this.table, Key: { [PARTITION_KEY]: infPk(infId), [SORT_KEY]: META_SK }, ConsistentRead: true }),
    );
    return r.Item && !this.isExpired(r.Item) ? r.Item : undefined;
  }

  /**
   * Conditional update on `expectedVersion` (version + 1, updatedAt = now unless patched).
   * Keys whose value is undefined are removed. `vmCounter` is ignored (see reserveVmIds).
   * A patch touching status / ownerKeys / createdAt / deletedAt / expiresAt also rewrites the
   * owner links and the tombstone, in the same transaction. Marking the infrastructure deleted
   * sets deletedAt (and expiresAt when the store has a retention) if the patch does not.
   *
   * @throws VersionConflictError when the stored version differs.
   * @throws ImError INF_NOT_FOUND when the infrastructure does not exist.
   */
  async updateInfrastructure(infId: string, expectedVersion: number, patch: InfraPatch): Promise<InfraRecord> {
    const now = this.now();
    const fullPatch: InfraPatch = { updatedAt: now, ...patch };
    if (INDEXED_FIELDS.some((f) => f in patch)) {
      return this.updateInfrastructureIndexed(infId, expectedVersion, fullPatch, now);
    }
    const update = new UpdateBuilder().patch(fullPatch, INF_IMMUTABLE);
    try {
      return await this.versionedUpdate<InfraRecord>({ [PARTITION_KEY]: infPk(infId), [SORT_KEY]: META_SK }, update, expectedVersion);
    } catch (err) {
      if (isConditionFailure(err)) throw await this.infConflict(infId);
      rethrowWrite(err);
    }
  }

  /**
   * The optimistic-locking write shared by infrastructure and VM updates: applies `update`, sets
   * version = expectedVersion + 1 on the condition version = expectedVersion, returns the new item.
   * Errors (including ConditionalCheckFailed) propagate to the caller, which knows what they mean.
   */
  private async versionedUpdate<T>(key: Record<string, string>, update: UpdateBuilder, expectedVersion: number): Promise<T> {
    update.set('version', expectedVersion + 1);
    const r = await this.doc.send(
      new UpdateCommand({
        TableName: this.table,
        Key: key,
        UpdateExpression: update.expression(),
        ConditionExpression: `${update.name('version')} = ${update.value(expectedVersion)}`,
        ExpressionAttributeNames: update.names,
        ExpressionAttributeValues: update.values,
        ReturnValues: 'ALL_NEW',
      }),
    );
    return fromItem<T>(r.Attributes ?? {});
  }

  /** Decides, after a failed condition, between "missing" and "changed by someone else". */
  private async infConflict(infId: string): Promise<Error> {
    const r = await this.doc.send(
      new GetCommand({
        TableName: this.table,
        Key: { [PARTITION_KEY]: infPk(infId), [SORT_KEY]: META_SK },
        ProjectionExpression: 'version',
        ConsistentRead: true,
      }),
    );
    return r.Item ? new VersionConflictError(`Infrastructure ${infId} was modified concurrently`) : errors.infNotFound();
  }

  /** The transactional path of updateInfrastructure (rare: status / owner changes). */
  private async updateInfrastructureIndexed(infId: string, expectedVersion: number, patch: InfraPatch, now: number): Promise<InfraRecord> {
    const currentItem = await this.getMetaItem(infId);
    if (!currentItem) throw errors.infNotFound();
    const current = fromItem<InfraRecord>(currentItem);
    if (current.version !== expectedVersion) throw new VersionConflictError(`Infrastructure ${infId} was modified concurrently`);

    const effective: InfraPatch = { ...patch };
    if (effective.status === 'deleted' && current.status !== 'deleted') {
      if (!('deletedAt' in effective) || effective.deletedAt === undefined) effective.deletedAt = now;
      if (!('expiresAt' in effective) && this.retentionDays !== undefined) {
        effective.expiresAt = Math.floor((effective.deletedAt + this.retentionDays * DAY_MS) / 1000);
      }
    }
    const next: InfraRecord = { ...current };
    for (const [field, value] of Object.entries(effective)) {
      if (INF_IMMUTABLE.has(field)) continue;
      if (value === undefined) delete (next as unknown as Item)[field];
      else (next as unknown as Item)[field] = value;
    }
    next.version = expectedVersion + 1;

    const update = new UpdateBuilder().patch(effective, INF_IMMUTABLE).set('version', next.version);
    if ('createdAt' in effective) update.set(TIME_INDEX.sortKey, timeSortKey(next.createdAt, infId));
    const items: TransactItem[] = [
      {
        Update: {
          TableName: this.table,
          Key: { [PARTITION_KEY]: infPk(infId), [SORT_KEY]: META_SK },
          UpdateExpression: update.expression(),
          ConditionExpression: `${update.name('version')} = ${update.value(expectedVersion)}`,
          ExpressionAttributeNames: update.names,
          ExpressionAttributeValues: update.values,
        },
      },
    ];
    const newKeys = new Set(next.ownerKeys);
    for (const key of new Set(current.ownerKeys)) {
      if (!newKeys.has(key)) items.push({ Delete: { TableName: this.table, Key: { [PARTITION_KEY]: infPk(infId), [SORT_KEY]: ownerSk(key) } } });
    }
    for (const key of newKeys) items.push({ Put: { TableName: this.table, Item: this.ownerLinkItem(next, key) } });
    if (next.status === 'deleted') items.push({ Put: { TableName: this.table, Item: this.tombstoneItem(next) } });
    else if (current.status === 'deleted') {
      items.push({ Delete: { TableName: this.table, Key: { [PARTITION_KEY]: infPk(infId), [SORT_KEY]: TOMBSTONE_SK } } });
    }
    try {
      await this.doc.send(new TransactWriteCommand({ TransactItems: items }));
    } catch (err) {
      if (isTransactionConflict(err)) throw new VersionConflictError(`Infrastructure ${infId} was modified concurrently`);
      rethrowWrite(err);
    }
    return next;
  }

  /**
   * Ids of the infrastructures, newest first, from the owner index (with ownerKey) or the time
   * index (all, for admins), without reading any infrastructure item. Deleted ones are left out
   * unless includeDeleted; expired ones always.
   */
  async listInfrastructureIds(opts: ListOptions = {}): Promise<string[]> {
    const input: QueryCommandInput = opts.ownerKey !== undefined
      ? {
          TableName: this.table,
          IndexName: OWNER_INDEX.name,
          KeyConditionExpression: '#pk = :pk',
          ExpressionAttributeNames: { '#pk': OWNER_INDEX.partitionKey },
          ExpressionAttributeValues: { ':pk': ownerIndexPk(opts.ownerKey) },
          ScanIndexForward: false,
        }
      : {
          TableName: this.table,
          IndexName: TIME_INDEX.name,
          KeyConditionExpression: '#pk = :pk',
          ExpressionAttributeNames: { '#pk': TIME_INDEX.partitionKey },
          ExpressionAttributeValues: { ':pk': TIME_PARTITION_ALL },
          ScanIndexForward: false,
        };
    const items = await this.queryAll(input);
    return items.filter((i) => !this.isExpired(i) && (opts.includeDeleted || i.status !== 'deleted')).map((i) => infIdFromPk(i[PARTITION_KEY] as string));
  }

  /**
   * Newest first. With ownerKey, only that owner's (owner index); otherwise all. The records are
   * read with BatchGetItem (100 keys per call, unprocessed keys retried).
   */
  async listInfrastructures(opts: ListOptions): Promise<InfraRecord[]> {
    const ids = await this.listInfrastructureIds(opts);
    const items = await this.batchGet(ids.map((id) => ({ [PARTITION_KEY]: infPk(id), [SORT_KEY]: META_SK })));
    const byId = new Map(items.map((i) => [i.id as string, i]));
    const out: InfraRecord[] = [];
    for (const id of ids) {
      const item = byId.get(id);
      // The index is eventually consistent: check the record itself too.
      if (!item || this.isExpired(item) || (!opts.includeDeleted && item.status === 'deleted')) continue;
      out.push(fromItem<InfraRecord>(item));
    }
    return out;
  }

  /**
   * Atomically reserves `count` consecutive VM ids (ADD on vmCounter, one round trip). Ids are
   * never reused. Does not change the record version.
   * @throws ImError INF_NOT_FOUND when the infrastructure does not exist.
   */
  async reserveVmIds(infId: string, count: number): Promise<number[]> {
    if (!Number.isInteger(count) || count < 0) throw errors.internal(`reserveVmIds: bad count ${count}`);
    if (count === 0) return [];
    try {
      const r = await this.doc.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { [PARTITION_KEY]: infPk(infId), [SORT_KEY]: META_SK },
          UpdateExpression: 'ADD vmCounter :n',
          ConditionExpression: `attribute_exists(${PARTITION_KEY})`,
          ExpressionAttributeValues: { ':n': count },
          ReturnValues: 'UPDATED_NEW',
        }),
      );
      const last = Number(r.Attributes?.vmCounter);
      return Array.from({ length: count }, (_, i) => last - count + i);
    } catch (err) {
      if (isConditionFailure(err)) throw errors.infNotFound();
      throw err;
    }
  }

  // ---- VMs -----------------------------------------------------------------------------------

  private vmItem(vm: VmRecord): Item {
    return toItem(vm, { [PARTITION_KEY]: infPk(vm.infId), [SORT_KEY]: vmSk(vm.vmId), _type: 'VM' satisfies ItemType });
  }

  /** Creates or replaces a VM item (one PutItem). */
  async putVm(vm: VmRecord): Promise<void> {
    try {
      await this.doc.send(new PutCommand({ TableName: this.table, Item: this.vmItem(vm) }));
    } catch (err) {
      rethrowWrite(err);
    }
  }

  /**
   * Creates or replaces many VM items with BatchWriteItem (25 per call, calls in parallel,
   * unprocessed items retried). Not atomic: on failure some VMs may have been written.
   */
  async putVms(vms: VmRecord[]): Promise<void> {
    const byKey = new Map(vms.map((vm) => [`${vm.infId}\u0000${vm.vmId}`, vm]));
    try {
      await this.batchWrite([...byKey.values()].map((vm) => ({ PutRequest: { Item: this.vmItem(vm) } })));
    } catch (err) {
      rethrowWrite(err);
    }
  }

  /** One VM (strongly consistent), destroyed ones included; undefined when missing. */
  async getVm(infId: string, vmId: number): Promise<VmRecord | undefined> {
    const r = await this.doc.send(
      new GetCommand({ TableName: this.table, Key: { [PARTITION_KEY]: infPk(infId), [SORT_KEY]: vmSk(vmId) }, ConsistentRead: true }),
    );
    return r.Item && !this.isExpired(r.Item) ? fromItem<VmRecord>(r.Item) : undefined;
  }

  /** All VMs of the infrastructure (destroyed included), in id order: one paginated Query. */
  async listVms(infId: string): Promise<VmRecord[]> {
    const items = await this.queryAll({
      TableName: this.table,
      KeyConditionExpression: '#pk = :pk AND begins_with(#sk, :prefix)',
      ExpressionAttributeNames: { '#pk': PARTITION_KEY, '#sk': SORT_KEY },
      ExpressionAttributeValues: { ':pk': infPk(infId), ':prefix': VM_SK_PREFIX },
      ConsistentRead: true,
    });
    return items.filter((i) => !this.isExpired(i)).map((i) => fromItem<VmRecord>(i));
  }

  /**
   * Conditional update of a VM on `expectedVersion`; returns the new record (version + 1).
   * @throws VersionConflictError when the stored version differs.
   * @throws ImError VM_NOT_FOUND when the VM does not exist.
   */
  async updateVm(infId: string, vmId: number, expectedVersion: number, patch: VmPatch): Promise<VmRecord> {
    const update = new UpdateBuilder().patch(patch, VM_IMMUTABLE);
    const key = { [PARTITION_KEY]: infPk(infId), [SORT_KEY]: vmSk(vmId) };
    try {
      return await this.versionedUpdate<VmRecord>(key, update, expectedVersion);
    } catch (err) {
      if (isConditionFailure(err)) {
        const r = await this.doc.send(new GetCommand({ TableName: this.table, Key: key, ProjectionExpression: 'version', ConsistentRead: true }));
        throw r.Item ? new VersionConflictError(`VM ${vmId} of ${infId} was modified concurrently`) : errors.invalidVm();
      }
      rethrowWrite(err);
    }
  }

  // ---- logs ----------------------------------------------------------------------------------

  /**
   * Appends text to a log. Reserves one sequence number per chunk with an atomic ADD on the
   * infrastructure item, then writes the chunks (≤ LOG_CHUNK_BYTES each): safe with any number
   * of concurrent appenders; appends are ordered by reservation.
   * @throws ImError INF_NOT_FOUND when the infrastructure does not exist.
   */
  async appendLog(infId: string, scope: LogScope, text: string): Promise<void> {
    if (!text) return;
    const pieces = splitUtf8(text, LOG_CHUNK_BYTES);
    let last: number;
    try {
      const r = await this.doc.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { [PARTITION_KEY]: infPk(infId), [SORT_KEY]: META_SK },
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
    if (items.length === 1) await this.doc.send(new PutCommand({ TableName: this.table, Item: items[0] }));
    else await this.batchWrite(items.map((Item) => ({ PutRequest: { Item } })));
  }

  /** The whole log: its chunks in sequence order (one Query, plus the clear mark in parallel). */
  async getLog(infId: string, scope: LogScope): Promise<string> {
    const cutAttr = logCutAttribute(scope);
    const [meta, chunks] = await Promise.all([
      this.doc.send(
        new GetCommand({
          TableName: this.table,
          Key: { [PARTITION_KEY]: infPk(infId), [SORT_KEY]: META_SK },
          ProjectionExpression: '#cut',
          ExpressionAttributeNames: { '#cut': cutAttr },
          ConsistentRead: true,
        }),
      ),
      this.queryAll({
        TableName: this.table,
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

  /**
   * Empties a log: marks every chunk reserved so far as cleared (atomic, so a concurrent append
   * made after the mark survives), then deletes those chunks.
   */
  async clearLog(infId: string, scope: LogScope): Promise<void> {
    let cut: number;
    try {
      const r = await this.doc.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { [PARTITION_KEY]: infPk(infId), [SORT_KEY]: META_SK },
          UpdateExpression: 'SET #cut = if_not_exists(#seq, :zero)',
          ConditionExpression: `attribute_exists(${PARTITION_KEY})`,
          ExpressionAttributeNames: { '#cut': logCutAttribute(scope), '#seq': logSeqAttribute(scope) },
          ExpressionAttributeValues: { ':zero': 0 },
          ReturnValues: 'UPDATED_NEW',
        }),
      );
      cut = Number(r.Attributes?.[logCutAttribute(scope)] ?? 0);
    } catch (err) {
      if (isConditionFailure(err)) return; // no infrastructure, nothing to clear
      throw err;
    }
    if (cut <= 0) return;
    const keys = await this.queryAll({
      TableName: this.table,
      KeyConditionExpression: '#pk = :pk AND #sk BETWEEN :from AND :to',
      ExpressionAttributeNames: { '#pk': PARTITION_KEY, '#sk': SORT_KEY },
      ExpressionAttributeValues: { ':pk': infPk(infId), ':from': logSk(scope, 0), ':to': logSk(scope, cut) },
      ProjectionExpression: '#pk, #sk',
      ConsistentRead: true,
    });
    await this.batchWrite(keys.map((Key) => ({ DeleteRequest: { Key } })));
  }

  // ---- deletion and purge --------------------------------------------------------------------

  /** Deletes every item of the infrastructure's partition (record, VMs, logs, owner links, tombstone). */
  async deleteInfrastructureData(infId: string): Promise<void> {
    await this.deletePartition(infId);
  }

  /** Query of the partition's keys, then BatchWriteItem deletes; returns the number of items. */
  private async deletePartition(infId: string): Promise<number> {
    const keys = await this.queryAll({
      TableName: this.table,
      KeyConditionExpression: '#pk = :pk',
      ExpressionAttributeNames: { '#pk': PARTITION_KEY, '#sk': SORT_KEY },
      ExpressionAttributeValues: { ':pk': infPk(infId) },
      ProjectionExpression: '#pk, #sk',
      ConsistentRead: true,
    });
    await this.batchWrite(keys.map((Key) => ({ DeleteRequest: { Key } })));
    return keys.length;
  }

  /**
   * Removes whole partitions:
   *  - deleted infrastructures whose deletedAt is before `deletedBefore` (tombstones, GSI2 `DELETED`);
   *  - infrastructures created before `createdBefore`, deleted or not (GSI2 `INF` and the tombstones).
   * Both are index queries (no table scan): the time index is sparse (only infrastructure items
   * and tombstones have GSI2 keys), so the purge reads only what it removes.
   */
  async purge(opts: PurgeOptions): Promise<{ infrastructures: number; items: number }> {
    const ids = new Set<string>();
    /** A time-index partition, optionally only sort keys before `before`, optionally created before. */
    const timeQuery = (partition: string, before?: number, createdBefore?: number): QueryCommandInput => {
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
        TableName: this.table,
        IndexName: TIME_INDEX.name,
        KeyConditionExpression: keyCondition,
        FilterExpression: filter,
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: values,
        ProjectionExpression: '#tablePk',
      };
    };
    const queries: QueryCommandInput[] = [];
    if (opts.deletedBefore !== undefined) queries.push(timeQuery(TIME_PARTITION_DELETED, opts.deletedBefore));
    if (opts.createdBefore !== undefined) {
      queries.push(timeQuery(TIME_PARTITION_ALL, opts.createdBefore));
      // Deleted ones too, even when TTL already removed their record: the tombstone has createdAt.
      queries.push(timeQuery(TIME_PARTITION_DELETED, undefined, opts.createdBefore));
    }
    if (opts.deletedCreatedBefore !== undefined) {
      queries.push(timeQuery(TIME_PARTITION_DELETED, undefined, opts.deletedCreatedBefore));
    }
    for (const items of await Promise.all(queries.map((q) => this.queryAll(q)))) {
      for (const item of items) ids.add(infIdFromPk(item[PARTITION_KEY] as string));
    }
    const counts = await mapLimit([...ids], 4, (id) => this.deletePartition(id));
    return { infrastructures: counts.filter((n) => n > 0).length, items: counts.reduce((a, b) => a + b, 0) };
  }

  // ---- low-level helpers ---------------------------------------------------------------------

  /** Every page of a Query. */
  private async queryAll(input: QueryCommandInput): Promise<Item[]> {
    const out: Item[] = [];
    let startKey: Record<string, unknown> | undefined;
    do {
      const r = await this.doc.send(new QueryCommand({ ...input, ExclusiveStartKey: startKey }));
      if (r.Items) out.push(...r.Items);
      startKey = r.LastEvaluatedKey;
    } while (startKey);
    return out;
  }

  /** BatchWriteItem in calls of 25 (up to 8 in flight), retrying unprocessed items with backoff. */
  private async batchWrite(requests: WriteRequest[]): Promise<void> {
    await mapLimit(chunk(requests, BATCH_WRITE_MAX), BATCH_CONCURRENCY, async (batch) => {
      let pending: WriteRequest[] = batch;
      for (let attempt = 0; pending.length; attempt++) {
        if (attempt > BATCH_RETRIES) throw errors.internal(`BatchWriteItem: ${pending.length} items left unprocessed`);
        if (attempt > 0) await backoff(attempt);
        const r = await this.doc.send(new BatchWriteCommand({ RequestItems: { [this.table]: pending } }));
        pending = (r.UnprocessedItems?.[this.table] ?? []) as WriteRequest[];
      }
    });
  }

  /** BatchGetItem (strongly consistent) in calls of 100, retrying unprocessed keys; any order. */
  private async batchGet(keys: Item[]): Promise<Item[]> {
    const pages = await mapLimit(chunk(keys, BATCH_GET_MAX), BATCH_CONCURRENCY, async (batch) => {
      const found: Item[] = [];
      let pending: Item[] = batch;
      for (let attempt = 0; pending.length; attempt++) {
        if (attempt > BATCH_RETRIES) throw errors.internal(`BatchGetItem: ${pending.length} keys left unprocessed`);
        if (attempt > 0) await backoff(attempt);
        const r = await this.doc.send(new BatchGetCommand({ RequestItems: { [this.table]: { Keys: pending, ConsistentRead: true } } }));
        found.push(...(r.Responses?.[this.table] ?? []));
        pending = (r.UnprocessedKeys?.[this.table]?.Keys ?? []) as Item[];
      }
      return found;
    });
    return pages.flat();
  }
}

// ---------------------------------------------------------------------------------------------
// Table creation (local mode and tests; in AWS the CDK storage construct creates the table)
// ---------------------------------------------------------------------------------------------

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
    if (errorName(err) !== 'ResourceInUseException') throw err;
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
