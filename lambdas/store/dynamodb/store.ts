/**
 * {@link InfrastructureStore} on one DynamoDB table (single-table design, ./schema.ts).
 *
 * - Infrastructure and VM items carry a `version`; every update is a conditional write on it and a
 *   failed condition becomes {@link VersionConflictError} (#core/mutate retries).
 * - `vmCounter` and the log sequence counters are atomic ADD counters on the infrastructure item.
 *   They do not bump `version`, and `updateInfrastructure` ignores `vmCounter` in a patch, so a
 *   stale read can never make a VM id be handed out twice.
 * - Large text fields are stored gzip-compressed (./items.ts); logs are chunk items (./logs.ts).
 * - Reads filter out items whose TTL (`expiresAt`) has passed: DynamoDB deletes them late and
 *   DynamoDB Local never does.
 * - A store that does not answer makes every call fail with ImError STORE_UNAVAILABLE (./requests.ts).
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GetCommand, PutCommand, TransactWriteCommand, UpdateCommand, type TransactWriteCommandInput } from '@aws-sdk/lib-dynamodb';
import { errors } from '#core/errors';
import {
  VersionConflictError,
  type InfraRecord,
  type InfrastructureStore,
  type ListOptions,
  type LogScope,
  type PurgeOptions,
  type SecretBox,
  type StoreHealth,
  type VmRecord,
  type VmUpdateRequest,
} from '#core/types';
import { fromItem, isExpired, metaItem, metaKey, ownerLinkItem, tombstoneItem, vmItem, vmKey, type Item } from '#store/dynamodb/items';
import { appendLog, clearLog, getLog } from '#store/dynamodb/logs';
import { deletePartition, purge } from '#store/dynamodb/purge';
import { Table, isConditionFailure, isTransactionConflict, rethrowWrite } from '#store/dynamodb/requests';
import {
  OWNER_INDEX,
  PARTITION_KEY,
  TIME_INDEX,
  TIME_PARTITION_ALL,
  TOMBSTONE_SK,
  VM_SK_PREFIX,
  SORT_KEY,
  infIdFromPk,
  infPk,
  ownerIndexPk,
  ownerSk,
  timeSortKey,
} from '#store/dynamodb/schema';
import { UpdateBuilder } from '#store/dynamodb/update-expression';
import { RecordSealer } from '#store/dynamodb/sealing';

/** A patch that touches one of these also rewrites the owner links / tombstone (one transaction). */
const INDEXED_FIELDS = ['status', 'ownerKeys', 'createdAt', 'deletedAt', 'expiresAt'] as const;
/** Fields a patch never changes: keys, version, and the atomic VM id counter. */
const INF_IMMUTABLE: ReadonlySet<string> = new Set(['id', 'version', 'vmCounter']);
const VM_IMMUTABLE: ReadonlySet<string> = new Set(['infId', 'vmId', 'version']);
const DAY_MS = 86_400_000;
/** Items in one TransactWriteItems call at most (DynamoDB's limit is 100). */
export const TRANSACTION_MAX = 100;

type InfraPatch = Partial<Omit<InfraRecord, 'id' | 'version'>>;
type VmPatch = Partial<Omit<VmRecord, 'infId' | 'vmId' | 'version'>>;
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
  /** The service key's box: VM passwords and private keys in the RADLs are stored sealed with it (./sealing.ts). */
  secrets?: SecretBox;
}

/** The record a successful conditional update leaves: the patch applied (undefined removes), version + 1. */
function applyVmPatch(vm: VmRecord, patch: VmPatch): VmRecord {
  const next = { ...vm } as Record<string, unknown>;
  for (const [k, v] of Object.entries(patch)) {
    if (VM_IMMUTABLE.has(k)) continue;
    if (v === undefined) delete next[k];
    else next[k] = v;
  }
  next.version = vm.version + 1;
  return next as unknown as VmRecord;
}

/** DynamoDB implementation of the {@link InfrastructureStore} port. */
export class DynamoInfrastructureStore implements InfrastructureStore {
  /** The table and its requests (shared with the execution journal of local mode). */
  readonly table: Table;
  private readonly retentionDays?: number;
  private readonly sealer?: RecordSealer;

  constructor(opts: DynamoStoreOptions) {
    this.table = new Table(opts.client, opts.tableName, opts.now ?? Date.now);
    this.retentionDays = opts.deletedRetentionDays;
    if (opts.secrets) this.sealer = new RecordSealer(opts.secrets);
  }

  private sealInf<T extends Partial<InfraRecord>>(r: T): T {
    return this.sealer ? this.sealer.sealInf(r) : r;
  }

  private openInf<T extends Partial<InfraRecord>>(r: T): T {
    return this.sealer ? this.sealer.openInf(r) : r;
  }

  private sealVm<T extends Partial<VmRecord>>(r: T): T {
    return this.sealer ? this.sealer.sealVm(r) : r;
  }

  private openVm<T extends Partial<VmRecord>>(r: T): T {
    return this.sealer ? this.sealer.openVm(r) : r;
  }

  private get name(): string {
    return this.table.name;
  }

  private expired(item: Item): boolean {
    return isExpired(item, this.table.now());
  }

  async health(): Promise<StoreHealth> {
    try {
      await this.table.send(new GetCommand({ TableName: this.name, Key: metaKey('health-check'), ProjectionExpression: 'version' }));
      return { ok: true };
    } catch (err) {
      return { ok: false, message: err instanceof Error ? err.message : String(err) };
    }
  }

  // ---- infrastructures -------------------------------------------------------------------------

  /**
   * Creates the infrastructure item, its owner links (and a tombstone if created deleted) and its
   * first VM records in one transaction, so that no record exists without its VMs. Above
   * {@link TRANSACTION_MAX} items the record, links and first VMs go in the transaction and the
   * remaining VMs follow in BatchWriteItem calls.
   *
   * @throws VersionConflictError when the id already exists.
   */
  async createInfrastructure(inf: InfraRecord, vms: VmRecord[] = []): Promise<void> {
    if (vms.some((vm) => vm.infId !== inf.id)) throw errors.internal('createInfrastructure: a VM of another infrastructure');
    const ownerKeys = [...new Set(inf.ownerKeys)];
    const condition = `attribute_not_exists(${PARTITION_KEY})`;
    const meta: TransactItem = { Put: { TableName: this.name, Item: metaItem(this.sealInf(inf)), ConditionExpression: condition } };
    const items: TransactItem[] = [meta];
    for (const key of ownerKeys) items.push({ Put: { TableName: this.name, Item: ownerLinkItem(inf, key) } });
    if (inf.status === 'deleted') items.push({ Put: { TableName: this.name, Item: tombstoneItem(inf) } });
    const room = TRANSACTION_MAX - items.length;
    for (const vm of vms.slice(0, room)) items.push({ Put: { TableName: this.name, Item: vmItem(this.sealVm(vm)) } });
    try {
      if (items.length === 1) await this.table.send(new PutCommand(meta.Put as never));
      else await this.table.send(new TransactWriteCommand({ TransactItems: items }));
    } catch (err) {
      if (isConditionFailure(err) || isTransactionConflict(err)) throw new VersionConflictError(`Infrastructure ${inf.id} already exists`);
      rethrowWrite(err);
    }
    if (vms.length > room) await this.putVms(vms.slice(room));
  }

  async getInfrastructure(infId: string): Promise<InfraRecord | undefined> {
    const item = await this.getMetaItem(infId);
    return item ? this.openInf(fromItem<InfraRecord>(item)) : undefined;
  }

  private async getMetaItem(infId: string): Promise<Item | undefined> {
    const r = await this.table.send<{ Item?: Item }>(new GetCommand({ TableName: this.name, Key: metaKey(infId), ConsistentRead: true }));
    return r.Item && !this.expired(r.Item) ? r.Item : undefined;
  }

  /**
   * Conditional update on `expectedVersion` (version + 1, updatedAt = now unless patched). Keys
   * whose value is undefined are removed; `vmCounter` is ignored (see reserveVmIds). A patch
   * touching status / ownerKeys / createdAt / deletedAt / expiresAt also rewrites the owner links
   * and the tombstone in the same transaction. Marking the infrastructure deleted sets deletedAt
   * (and expiresAt when the store has a retention) if the patch does not.
   *
   * @throws VersionConflictError when the stored version differs.
   * @throws ImError INF_NOT_FOUND when the infrastructure does not exist.
   */
  async updateInfrastructure(infId: string, expectedVersion: number, patch: InfraPatch, current?: InfraRecord): Promise<InfraRecord> {
    const now = this.table.now();
    const fullPatch: InfraPatch = this.sealInf({ updatedAt: now, ...patch });
    if (INDEXED_FIELDS.some((f) => f in patch)) {
      const known = current && current.id === infId && current.version === expectedVersion ? this.sealInf(current) : undefined;
      return this.openInf(await this.updateInfrastructureIndexed(infId, expectedVersion, fullPatch, now, known));
    }
    const update = new UpdateBuilder().patch(fullPatch, INF_IMMUTABLE);
    try {
      return this.openInf(await this.versionedUpdate<InfraRecord>(metaKey(infId), update, expectedVersion));
    } catch (err) {
      if (isConditionFailure(err)) throw await this.conflict(metaKey(infId), `Infrastructure ${infId} was modified concurrently`, errors.infNotFound());
      rethrowWrite(err);
    }
  }

  /** The optimistic-locking write: applies `update`, version = expected + 1 if version = expected. */
  private async versionedUpdate<T>(key: Item, update: UpdateBuilder, expectedVersion: number): Promise<T> {
    update.set('version', expectedVersion + 1);
    const r = await this.table.send<{ Attributes?: Item }>(
      new UpdateCommand({
        TableName: this.name,
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

  /** After a failed condition: "changed by someone else" when the item exists, else `missing`. */
  private async conflict(key: Item, message: string, missing: Error): Promise<Error> {
    const r = await this.table.send<{ Item?: Item }>(new GetCommand({ TableName: this.name, Key: key, ProjectionExpression: 'version', ConsistentRead: true }));
    return r.Item ? new VersionConflictError(message) : missing;
  }

  /** The transactional path of updateInfrastructure (rare: status / owner changes). */
  /**
   * A change of an indexed field: the record's item and its owner links and tombstone in one transaction,
   * conditional on the version. `known` (the record at `expectedVersion`, sealed as stored) saves the read
   * of the current item: the condition makes sure it is still the current one.
   */
  private async updateInfrastructureIndexed(infId: string, expectedVersion: number, patch: InfraPatch, now: number, known?: InfraRecord): Promise<InfraRecord> {
    let current = known;
    if (!current) {
      const currentItem = await this.getMetaItem(infId);
      if (!currentItem) throw errors.infNotFound();
      current = fromItem<InfraRecord>(currentItem);
    }
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
          TableName: this.name,
          Key: metaKey(infId),
          UpdateExpression: update.expression(),
          ConditionExpression: `${update.name('version')} = ${update.value(expectedVersion)}`,
          ExpressionAttributeNames: update.names,
          ExpressionAttributeValues: update.values,
        },
      },
    ];
    const newKeys = new Set(next.ownerKeys);
    for (const key of new Set(current.ownerKeys)) {
      if (!newKeys.has(key)) items.push({ Delete: { TableName: this.name, Key: { [PARTITION_KEY]: infPk(infId), [SORT_KEY]: ownerSk(key) } } });
    }
    for (const key of newKeys) items.push({ Put: { TableName: this.name, Item: ownerLinkItem(next, key) } });
    if (next.status === 'deleted') items.push({ Put: { TableName: this.name, Item: tombstoneItem(next) } });
    else if (current.status === 'deleted') items.push({ Delete: { TableName: this.name, Key: { [PARTITION_KEY]: infPk(infId), [SORT_KEY]: TOMBSTONE_SK } } });
    try {
      await this.table.send(new TransactWriteCommand({ TransactItems: items }));
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
    const [index, pk] = opts.ownerKey !== undefined ? [OWNER_INDEX, ownerIndexPk(opts.ownerKey)] : [TIME_INDEX, TIME_PARTITION_ALL];
    const items = await this.table.queryAll({
      IndexName: index.name,
      KeyConditionExpression: '#pk = :pk',
      ExpressionAttributeNames: { '#pk': index.partitionKey },
      ExpressionAttributeValues: { ':pk': pk },
      ScanIndexForward: false,
    });
    return items.filter((i) => !this.expired(i) && (opts.includeDeleted || i.status !== 'deleted')).map((i) => infIdFromPk(i[PARTITION_KEY] as string));
  }

  /** Newest first; the records are read with BatchGetItem (100 keys per call). */
  async listInfrastructures(opts: ListOptions = {}): Promise<InfraRecord[]> {
    const ids = await this.listInfrastructureIds(opts);
    const items = await this.table.batchGet(ids.map(metaKey));
    const byId = new Map(items.map((i) => [i.id as string, i]));
    const out: InfraRecord[] = [];
    for (const id of ids) {
      const item = byId.get(id);
      // The index is eventually consistent: check the record itself too.
      if (!item || this.expired(item) || (!opts.includeDeleted && item.status === 'deleted')) continue;
      out.push(this.openInf(fromItem<InfraRecord>(item)));
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
      const r = await this.table.send<{ Attributes?: Item }>(
        new UpdateCommand({
          TableName: this.name,
          Key: metaKey(infId),
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

  // ---- VMs -------------------------------------------------------------------------------------

  async putVm(vm: VmRecord): Promise<void> {
    try {
      await this.table.send(new PutCommand({ TableName: this.name, Item: vmItem(this.sealVm(vm)) }));
    } catch (err) {
      rethrowWrite(err);
    }
  }

  /** BatchWriteItem, 25 per call, calls in parallel. Not atomic: on failure some may be written. */
  async putVms(vms: VmRecord[]): Promise<void> {
    if (vms.length === 1) return this.putVm(vms[0]);
    const byKey = new Map(vms.map((vm) => [`${vm.infId}\u0000${vm.vmId}`, vm]));
    try {
      await this.table.batchWrite([...byKey.values()].map((vm) => ({ PutRequest: { Item: vmItem(this.sealVm(vm)) } })));
    } catch (err) {
      rethrowWrite(err);
    }
  }

  async getVm(infId: string, vmId: number): Promise<VmRecord | undefined> {
    const r = await this.table.send<{ Item?: Item }>(new GetCommand({ TableName: this.name, Key: vmKey(infId, vmId), ConsistentRead: true }));
    return r.Item && !this.expired(r.Item) ? this.openVm(fromItem<VmRecord>(r.Item)) : undefined;
  }

  /** All VMs of the infrastructure (destroyed included), in id order: one paginated Query. */
  async listVms(infId: string): Promise<VmRecord[]> {
    const items = await this.table.queryAll({
      KeyConditionExpression: '#pk = :pk AND begins_with(#sk, :prefix)',
      ExpressionAttributeNames: { '#pk': PARTITION_KEY, '#sk': SORT_KEY },
      ExpressionAttributeValues: { ':pk': infPk(infId), ':prefix': VM_SK_PREFIX },
      ConsistentRead: true,
    });
    return items.filter((i) => !this.expired(i)).map((i) => this.openVm(fromItem<VmRecord>(i)));
  }

  /**
   * @throws VersionConflictError when the stored version differs.
   * @throws ImError VM_NOT_FOUND when the VM does not exist.
   */
  async updateVm(infId: string, vmId: number, expectedVersion: number, patch: VmPatch): Promise<VmRecord> {
    const update = new UpdateBuilder().patch(this.sealVm(patch), VM_IMMUTABLE);
    try {
      return this.openVm(await this.versionedUpdate<VmRecord>(vmKey(infId, vmId), update, expectedVersion));
    } catch (err) {
      if (isConditionFailure(err)) throw await this.conflict(vmKey(infId, vmId), `VM ${vmId} of ${infId} was modified concurrently`, errors.invalidVm());
      rethrowWrite(err);
    }
  }

  /** Conditional updates in TransactWriteItems of up to {@link TRANSACTION_MAX} items (one round trip each). */
  async updateVms(updates: VmUpdateRequest[]): Promise<VmRecord[]> {
    const out: VmRecord[] = [];
    for (let i = 0; i < updates.length; i += TRANSACTION_MAX) {
      const chunk = updates.slice(i, i + TRANSACTION_MAX);
      if (chunk.length === 1) {
        const { vm, patch } = chunk[0];
        out.push(await this.updateVm(vm.infId, vm.vmId, vm.version, patch));
        continue;
      }
      const items: TransactItem[] = chunk.map(({ vm, patch }) => {
        const update = new UpdateBuilder().patch(this.sealVm(patch), VM_IMMUTABLE).set('version', vm.version + 1);
        return {
          Update: {
            TableName: this.name,
            Key: vmKey(vm.infId, vm.vmId),
            UpdateExpression: update.expression(),
            ConditionExpression: `${update.name('version')} = ${update.value(vm.version)}`,
            ExpressionAttributeNames: update.names,
            ExpressionAttributeValues: update.values,
          },
        };
      });
      try {
        await this.table.send(new TransactWriteCommand({ TransactItems: items }));
      } catch (err) {
        if (isTransactionConflict(err)) throw new VersionConflictError(`A VM of ${chunk[0].vm.infId} was modified concurrently`);
        rethrowWrite(err);
      }
      for (const { vm, patch } of chunk) out.push(applyVmPatch(vm, patch));
    }
    return out;
  }

  // ---- logs, deletion, purge -------------------------------------------------------------------

  appendLog(infId: string, scope: LogScope, text: string): Promise<void> {
    return appendLog(this.table, infId, scope, text);
  }

  getLog(infId: string, scope: LogScope): Promise<string> {
    return getLog(this.table, infId, scope);
  }

  clearLog(infId: string, scope: LogScope): Promise<void> {
    return clearLog(this.table, infId, scope);
  }

  async deleteInfrastructureData(infId: string): Promise<void> {
    await deletePartition(this.table, infId);
  }

  purge(opts: PurgeOptions): Promise<{ infrastructures: number; items: number }> {
    return purge(this.table, opts);
  }
}
