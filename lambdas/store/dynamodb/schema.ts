/**
 * The single DynamoDB table of the service: names shared by the store, `createTable` and the
 * CDK storage construct, plus the key formats of every item kind.
 *
 * One partition per infrastructure (`PK = INF#<id>`):
 *
 * | item            | SK                              | GSI keys                                                   |
 * |-----------------|---------------------------------|------------------------------------------------------------|
 * | infrastructure  | `META`                          | GSI2: `INF` / `<createdAt>#<id>` (admin "list all", purge)  |
 * | VM              | `VM#<vmId, 10 digits>`          | –                                                          |
 * | log chunk       | `LOG#<INF or VM<id>>#<seq, 10>` | –                                                          |
 * | owner link      | `OWNER#<ownerKey>`              | GSI1: `OWNER#<ownerKey>` / `<createdAt>#<id>`               |
 * | tombstone       | `DELETED`                       | GSI2: `DELETED` / `<deletedAt>#<id>` (purge of deleted ones) |
 *
 * Times in index sort keys are epoch ms padded to 15 digits, so that string order is time order.
 * The TTL attribute ({@link TTL_ATTRIBUTE}, epoch seconds) is set on the infrastructure item and
 * its owner links once deleted; never on the tombstone, so that the purge still finds the
 * partition (VMs, logs) after TTL has removed the infrastructure item.
 */

/** Partition key attribute of the table. */
export const PARTITION_KEY = 'PK';
/** Sort key attribute of the table. */
export const SORT_KEY = 'SK';
/** TTL attribute (epoch seconds). */
export const TTL_ATTRIBUTE = 'expiresAt';

/** Attributes copied into both GSIs, so that listings and the purge filter without reading items. */
export const INDEX_PROJECTED_ATTRIBUTES = ['id', 'status', 'createdAt', 'deletedAt', 'expiresAt'] as const;

/** Owner index: a user's infrastructures, newest first. */
export const OWNER_INDEX = {
  name: 'GSI1',
  partitionKey: 'GSI1PK',
  sortKey: 'GSI1SK',
} as const;

/**
 * Time index (overloaded, sparse): partition `INF` holds every infrastructure item by creation
 * time (admin listing, purge by creation date); partition `DELETED` holds the tombstones by
 * deletion time (purge of deleted infrastructures). Both are queries; nothing scans the table.
 */
export const TIME_INDEX = {
  name: 'GSI2',
  partitionKey: 'GSI2PK',
  sortKey: 'GSI2SK',
} as const;

/** Every key attribute (all strings). */
export const KEY_ATTRIBUTES = [
  PARTITION_KEY,
  SORT_KEY,
  OWNER_INDEX.partitionKey,
  OWNER_INDEX.sortKey,
  TIME_INDEX.partitionKey,
  TIME_INDEX.sortKey,
] as const;

/** Item kinds (attribute `_type`, for humans reading the table). */
export type ItemType = 'INF' | 'VM' | 'LOG' | 'OWNER' | 'TOMBSTONE' | 'EXEC';

export const META_SK = 'META';
export const TOMBSTONE_SK = 'DELETED';
export const VM_SK_PREFIX = 'VM#';
export const LOG_SK_PREFIX = 'LOG#';
export const OWNER_SK_PREFIX = 'OWNER#';
/** GSI2 partition of the infrastructure items. */
export const TIME_PARTITION_ALL = 'INF';
/** GSI2 partition of the tombstones. */
export const TIME_PARTITION_DELETED = 'DELETED';

/** Left-pads a non-negative integer with zeros. */
export function pad(n: number, width: number): string {
  return String(Math.max(0, Math.trunc(n))).padStart(width, '0');
}

export const infPk = (infId: string): string => `INF#${infId}`;
export const infIdFromPk = (pk: string): string => pk.slice('INF#'.length);
export const vmSk = (vmId: number): string => `${VM_SK_PREFIX}${pad(vmId, 10)}`;
export const ownerSk = (ownerKey: string): string => `${OWNER_SK_PREFIX}${ownerKey}`;
export const ownerIndexPk = (ownerKey: string): string => `OWNER#${ownerKey}`;
/** Sort key of both indexes: `<epoch ms, 15 digits>#<infId>`. */
export const timeSortKey = (epochMs: number, infId: string): string => `${pad(epochMs, 15)}#${infId}`;
/** The exclusive upper bound for "strictly before epochMs" in a time index. */
export const timeUpperBound = (epochMs: number): string => pad(epochMs, 15);

/** `INF` for the infrastructure log, `VM<10 digits>` for a VM's. */
export const logScopeKey = (scope: 'inf' | number): string => (scope === 'inf' ? 'INF' : `VM${pad(scope, 10)}`);
export const logPrefix = (scope: 'inf' | number): string => `${LOG_SK_PREFIX}${logScopeKey(scope)}#`;
/**
 * Log chunk key: `<prefix><epoch ms, 15 digits>.<sequence of this process, 9 digits>.<random, 6 hex>`, so
 * that an append needs no counter round trip; string order is time order (then the writer's own order).
 */
export const logSk = (scope: 'inf' | number, ms: number, seq: number, rand: string): string => `${logPrefix(scope)}${pad(ms, 15)}.${pad(seq, 9)}.${rand}`;
/** Attribute (on the infrastructure item): the chunk key up to which clearLog cleared a log. */
export const logCutAttribute = (scope: 'inf' | number): string => `_logCutKey_${logScopeKey(scope)}`;

/**
 * Running workflow executions (local mode's durable orchestrator): one item each in this
 * partition, `SK = <execution id>`, deleted when the execution ends, so that a restart finds
 * every execution that was cut short. Not part of any infrastructure's partition (the purge and
 * deleteInfrastructureData never touch it).
 */
export const EXECUTIONS_PK = 'EXEC#RUNNING';
