/**
 * Records ↔ DynamoDB items: the item of each kind (./schema.ts), large text compressed, keys and
 * internal attributes kept out of the records.
 */
import { gunzipSync, gzipSync } from 'node:zlib';
import type { InfraRecord, VmRecord } from '#core/types';
import {
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
  infPk,
  ownerIndexPk,
  ownerSk,
  timeSortKey,
  vmSk,
  type ItemType,
} from '#store/dynamodb/schema';

export type Item = Record<string, unknown>;

/** Text fields larger than this (UTF-8 bytes) are stored gzip-compressed. */
export const COMPRESS_ABOVE_BYTES = 32 * 1024;
/** Fields that may be large and are compressed above {@link COMPRESS_ABOVE_BYTES}. */
export const COMPRESSIBLE: ReadonlySet<string> = new Set(['radl', 'tosca', 'info', 'requestedRadl']);
export const GZ_PREFIX = '_gz_';
export const KEY_ATTRIBUTE_SET: ReadonlySet<string> = new Set<string>(KEY_ATTRIBUTES);

/** Whether a string is over {@link COMPRESS_ABOVE_BYTES} bytes (cheap length test first). */
export function isLarge(value: string): boolean {
  return value.length * 3 > COMPRESS_ABOVE_BYTES && Buffer.byteLength(value, 'utf8') > COMPRESS_ABOVE_BYTES;
}

/** Compressed form of a large text field. */
export const compress = (value: string): Uint8Array => gzipSync(value);

/** Record fields → item attributes (undefined dropped, large text compressed), plus `keys`. */
export function toItem(record: object, keys: Item): Item {
  const item: Item = {};
  for (const [field, value] of Object.entries(record)) {
    if (value === undefined) continue;
    if (COMPRESSIBLE.has(field) && typeof value === 'string' && isLarge(value)) item[GZ_PREFIX + field] = compress(value);
    else item[field] = value;
  }
  return Object.assign(item, keys);
}

/** Item → record: keys and internal (`_`-prefixed) attributes dropped, compressed text restored. */
export function fromItem<T>(item: Item): T {
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

/** Whether an item's TTL has passed (DynamoDB deletes such items late; DynamoDB Local never). */
export function isExpired(item: Item, now: number): boolean {
  const ttl = item[TTL_ATTRIBUTE];
  return typeof ttl === 'number' && ttl * 1000 <= now;
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

export const metaKey = (infId: string): Item => ({ [PARTITION_KEY]: infPk(infId), [SORT_KEY]: META_SK });
export const vmKey = (infId: string, vmId: number): Item => ({ [PARTITION_KEY]: infPk(infId), [SORT_KEY]: vmSk(vmId) });

/** The infrastructure item (GSI2 `INF` by creation time). */
export function metaItem(inf: InfraRecord): Item {
  return toItem(inf, {
    ...metaKey(inf.id),
    _type: 'INF' satisfies ItemType,
    [TIME_INDEX.partitionKey]: TIME_PARTITION_ALL,
    [TIME_INDEX.sortKey]: timeSortKey(inf.createdAt, inf.id),
  });
}

/** Owner link: the projected attributes let listings filter without reading the record. */
export function ownerLinkItem(inf: InfraRecord, ownerKey: string): Item {
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
export function tombstoneItem(inf: InfraRecord): Item {
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

export function vmItem(vm: VmRecord): Item {
  return toItem(vm, { ...vmKey(vm.infId, vm.vmId), _type: 'VM' satisfies ItemType });
}
